// Conv2d: shared filters W (out_channels, in_channels, k, k), stride and zero padding; bias per channel.
#include "bioprop/layers.hpp"
#include "window.hpp"

namespace bioprop {
namespace {

class Conv2d final : public WindowWeightedLayer {
 public:
  Conv2d(int channels, int kernel, int stride, int padding, bool use_bias)
      : WindowWeightedLayer("conv2d", channels, kernel, stride, padding, use_bias) {}
  std::string kind() const override { return "conv2d"; }

  Shape build(const Shape& input, int index, const Initializer& init, Backend& backend) override {
    const WindowGeometry g = geometry(input, "layer " + std::to_string(index) + " (conv2d)");
    const int fan_out =
        checked_int_product({channels_, kernel_, kernel_}, "layer " + std::to_string(index) + " (conv2d): fan-out");
    create_weights({channels_, g.in_channels, kernel_, kernel_}, channels_, g.patch_size(), fan_out, index, init,
                   backend);
    return output_shape_of(g);
  }
  Shape output_shape(const Shape& input) const override { return output_shape_of(geometry(input, "conv2d")); }

  void set_training(bool training) override { training_ = training; }

  void forward(Backend& backend, const Tensor& x, Tensor& y) override {
    const WindowGeometry g = geometry(x.shape(), "conv2d");
    if (training_)
      backend.conv2d_training_forward(x, weights_.value, y, g);
    else
      backend.conv2d_forward(x, weights_.value, y, g);
    if (use_bias_) backend.add_bias(y, bias_.value);
  }
  bool forward_then_relu(Backend& backend, const Tensor& x, Tensor& y) override {
    // The bias is added after the convolution, and the ReLU must follow it.
    return !use_bias_ && backend.conv2d_relu_forward(x, weights_.value, y, geometry(x.shape(), "conv2d"), training_);
  }
  void backward_data(Backend& backend, const Tensor& x, const Tensor&, const Tensor& dy, Tensor& dx,
                     Pathway pathway) override {
    backend.conv2d_backward_data(dy, weights_for(pathway), dx, geometry(x.shape(), "conv2d"));
  }
  void weight_grad(Backend& backend, const Tensor& x, const Tensor& dy, float beta) override {
    backend.conv2d_backward_filter(dy, x, beta, weights_.grad, geometry(x.shape(), "conv2d"));
    if (use_bias_) backend.bias_grad(dy, beta, bias_.grad);
  }

 private:
  bool training_ = false;
  WindowGeometry geometry(const Shape& input, const std::string& label) const { return window(input, label); }
};

}  // namespace

std::unique_ptr<Layer> make_conv2d(int channels, int kernel, int stride, int padding, bool use_bias) {
  return std::make_unique<Conv2d>(channels, kernel, stride, padding, use_bias);
}

}  // namespace bioprop
