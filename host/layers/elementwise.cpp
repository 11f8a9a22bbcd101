// Parameter-free element-wise layers: the activations and Flatten.
#include <fmt/format.h>

#include "bioprop/error.hpp"
#include "bioprop/layers.hpp"

namespace bioprop {

std::string to_string(Activation f) {
  switch (f) {
    case Activation::relu:
      return "relu";
    case Activation::sigmoid:
      return "sigmoid";
    case Activation::tanh:
      return "tanh";
    case Activation::softplus:
      return "softplus";
  }
  return "?";
}

namespace {

class ActivationLayer final : public Layer {
 public:
  explicit ActivationLayer(Activation f) : f_(f) {}
  std::string kind() const override { return to_string(f_); }
  std::optional<Activation> activation_function() const override { return f_; }
  Shape build(const Shape& input, int, const Initializer&, Backend&) override { return input; }
  Shape output_shape(const Shape& input) const override { return input; }
  void forward(Backend& backend, const Tensor& x, Tensor& y) override { backend.activation_forward(f_, x, y); }
  void backward_data(Backend& backend, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                     Pathway) override {
    backend.activation_backward(f_, x, y, dy, dx);
  }

 private:
  Activation f_;
};

class Flatten final : public Layer {
 public:
  std::string kind() const override { return "flatten"; }
  Shape build(const Shape& input, int, const Initializer&, Backend&) override { return output_shape(input); }
  Shape output_shape(const Shape& input) const override { return {input[0], static_cast<int>(input.sample_size())}; }
  void forward(Backend& backend, const Tensor& x, Tensor& y) override { backend.copy(x, y); }
  void backward_data(Backend& backend, const Tensor&, const Tensor&, const Tensor& dy, Tensor& dx, Pathway) override {
    backend.copy(dy, dx);
  }
};

class Dropout final : public Layer {
 public:
  explicit Dropout(float rate) : rate_(rate) {
    if (!(rate >= 0.0f && rate < 1.0f)) fail("dropout: rate must be in [0, 1), got {}", rate);
  }
  std::string kind() const override { return "dropout"; }
  std::string settings() const override { return fmt::format("rate {}", rate_); }
  Shape build(const Shape& input, int index, const Initializer& init, Backend&) override {
    seed_ = init.seed ^ (0xD50Full + static_cast<uint64_t>(index));
    return input;
  }
  Shape output_shape(const Shape& input) const override { return input; }
  void set_training(bool training) override { training_ = training; }
  void set_repeat_draws(bool repeat) override { repeat_ = repeat; }
  void set_first_trial(uint64_t first) override { first_trial_ = first; }
  StreamPositions stream_positions() override { return {{"masks", &draws_}}; }
  void forward(Backend& backend, const Tensor& x, Tensor& y) override {
    if (!training_ || rate_ == 0.0f) return backend.copy(x, y);
    if (!repeat_ || mask_.shape() != x.shape()) {  // a fresh mask every ordinary forward pass
      mask_.resize(x.shape(), backend.device());
      backend.dropout_mask(mask_, rate_, seed_, draws_++ << 32, first_trial_ * x.shape().sample_size());
    }
    backend.multiply(x, mask_, y);
  }
  void backward_data(Backend& backend, const Tensor&, const Tensor&, const Tensor& dy, Tensor& dx, Pathway) override {
    if (!training_ || rate_ == 0.0f) return backend.copy(dy, dx);
    backend.multiply(dy, mask_, dx);  // the mask of the last forward pass
  }

 private:
  float rate_;
  bool training_ = false, repeat_ = false;
  uint64_t seed_ = 0, draws_ = 0, first_trial_ = 0;
  Tensor mask_;
};

}  // namespace

std::unique_ptr<Layer> make_dropout(float rate) { return std::make_unique<Dropout>(rate); }

std::unique_ptr<Layer> make_activation(Activation f) { return std::make_unique<ActivationLayer>(f); }
std::unique_ptr<Layer> make_flatten() { return std::make_unique<Flatten>(); }

}  // namespace bioprop
