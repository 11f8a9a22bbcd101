// Dense: y = x W^T + b, x flattened to (N, in). W is (units, in).
#include "bioprop/checked_size.hpp"
#include "bioprop/error.hpp"
#include "bioprop/layers.hpp"

namespace bioprop {
namespace {

class Dense final : public WeightedLayer {
 public:
  Dense(int units, bool use_bias) : WeightedLayer(use_bias), units_(units) {
    if (units < 1) fail("dense: units must be at least 1, got {}", units);
  }
  std::string kind() const override { return "dense"; }
  std::string settings() const override { return std::to_string(units_) + (use_bias_ ? "" : " no-bias"); }

  Shape build(const Shape& input, int index, const Initializer& init, Backend& backend) override {
    const int in = checked_int_product({static_cast<int64_t>(input.sample_size())},
                                       "layer " + std::to_string(index) + " (dense): inputs per sample");
    create_weights({units_, in}, units_, in, units_, index, init, backend);
    return output_shape(input);
  }
  Shape output_shape(const Shape& input) const override { return {input[0], units_}; }

  void forward(Backend& backend, const Tensor& x, Tensor& y) override {
    backend.gemm(false, true, 1.0f, flat(x), weights_.value, 0.0f, y);
    if (use_bias_) backend.add_bias(y, bias_.value);
  }
  void backward_data(Backend& backend, const Tensor&, const Tensor&, const Tensor& dy, Tensor& dx,
                     Pathway pathway) override {
    Tensor dx_flat = flat(dx);
    backend.gemm(false, false, 1.0f, dy, weights_for(pathway), 0.0f, dx_flat);
  }
  void weight_grad(Backend& backend, const Tensor& x, const Tensor& dy, float beta) override {
    backend.gemm(true, false, 1.0f, dy, flat(x), beta, weights_.grad);
    if (use_bias_) backend.bias_grad(dy, beta, bias_.grad);
  }
  void modulated_weight_grad(Backend& backend, const Tensor& x, const Tensor& tags, const Tensor& modulator,
                             float alpha, Tensor& scratch) override {
    if (use_bias_) return Layer::modulated_weight_grad(backend, x, tags, modulator, alpha, scratch);
    backend.dense_three_factor_update(tags, flat(x), modulator, alpha, 0.0f, weights_.grad);
  }

 private:
  static Tensor flat(const Tensor& t) { return t.reshaped({t.dim(0), static_cast<int>(t.shape().sample_size())}); }
  int units_;
};

}  // namespace

std::unique_ptr<Layer> make_dense(int units, bool use_bias) { return std::make_unique<Dense>(units, use_bias); }

}  // namespace bioprop
