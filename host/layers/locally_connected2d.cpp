// LocallyConnected2d: like Conv2d but with unshared weights, one filter bank per output position:
// W (out_h, out_w, out_channels, in_channels, k, k); the bias is unshared too (out_channels, out_h, out_w).
#include "bioprop/layers.hpp"
#include "window.hpp"

namespace bioprop {
namespace {

class LocallyConnected2d final : public WindowWeightedLayer {
 public:
  LocallyConnected2d(int channels, int kernel, int stride, int padding, bool use_bias)
      : WindowWeightedLayer("locally_connected2d", channels, kernel, stride, padding, use_bias) {}
  std::string kind() const override { return "locally_connected2d"; }

  Shape build(const Shape& input, int index, const Initializer& init, Backend& backend) override {
    const WindowGeometry g = geometry(input, "layer " + std::to_string(index) + " (locally_connected2d)");
    built_input_ = input;
    create_weights({g.out_h, g.out_w, channels_, g.in_channels, kernel_, kernel_}, channels_ * g.positions(),
                   g.patch_size(), channels_ * kernel_ * kernel_, index, init, backend);
    return output_shape_of(g);
  }
  Shape output_shape(const Shape& input) const override {
    return output_shape_of(geometry(input, "locally_connected2d"));
  }

  void forward(Backend& backend, const Tensor& x, Tensor& y) override {
    backend.locally_connected_forward(x, weights_.value, y, geometry(x.shape(), "locally_connected2d"));
    if (use_bias_) backend.add_bias(y, bias_.value);
  }
  void backward_data(Backend& backend, const Tensor& x, const Tensor&, const Tensor& dy, Tensor& dx,
                     Pathway pathway) override {
    backend.locally_connected_backward_data(dy, weights_for(pathway), dx, geometry(x.shape(), "locally_connected2d"));
  }
  void weight_grad(Backend& backend, const Tensor& x, const Tensor& dy, float beta) override {
    backend.locally_connected_backward_weight(dy, x, beta, weights_.grad, geometry(x.shape(), "locally_connected2d"));
    if (use_bias_) backend.bias_grad(dy, beta, bias_.grad);
  }
  void modulated_weight_grad(Backend& backend, const Tensor& x, const Tensor& tags, const Tensor& modulator,
                             float alpha, Tensor& scratch) override {
    if (use_bias_) return Layer::modulated_weight_grad(backend, x, tags, modulator, alpha, scratch);
    backend.locally_connected_three_factor_update(tags, x, modulator, alpha, 0.0f, weights_.grad,
                                                  geometry(x.shape(), "locally_connected2d"));
  }

 private:
  // Unshared weights tie the layer to the image size it was built for.
  WindowGeometry geometry(const Shape& input, const std::string& label) const {
    if (built_input_.rank() == 4 && input.rank() == 4 &&
        (input[1] != built_input_[1] || input[2] != built_input_[2] || input[3] != built_input_[3]))
      fail("{}: built for {}x{}x{} inputs, got {}", label, built_input_[1], built_input_[2], built_input_[3],
           input.str());
    return window(input, label);
  }
  Shape built_input_;
};

}  // namespace

std::unique_ptr<Layer> make_locally_connected2d(int channels, int kernel, int stride, int padding, bool use_bias) {
  return std::make_unique<LocallyConnected2d>(channels, kernel, stride, padding, use_bias);
}

}  // namespace bioprop
