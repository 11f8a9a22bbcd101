// Parameter-free element-wise layers: the activations and Flatten.
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
  bool is_activation() const override { return true; }
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

}  // namespace

std::unique_ptr<Layer> make_activation(Activation f) { return std::make_unique<ActivationLayer>(f); }
std::unique_ptr<Layer> make_flatten() { return std::make_unique<Flatten>(); }

}  // namespace bioprop
