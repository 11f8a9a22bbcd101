// MaxPool2d and AvgPool2d: square windows, no padding, no parameters.
#include "bioprop/layers.hpp"
#include "window.hpp"

namespace bioprop {
namespace {

class Pool2d final : public Layer {
 public:
  Pool2d(bool max, int kernel, int stride) : max_(max), kernel_(kernel), stride_(stride) {}
  std::string kind() const override { return max_ ? "max_pool2d" : "avg_pool2d"; }
  std::string settings() const override { return fmt::format("{}x{} s{}", kernel_, kernel_, stride_); }
  Shape build(const Shape& input, int index, const Initializer&, Backend&) override {
    return output_shape_of(geometry(input, "layer " + std::to_string(index) + " (" + kind() + ")"));
  }
  Shape output_shape(const Shape& input) const override { return output_shape_of(geometry(input, kind())); }
  void forward(Backend& backend, const Tensor& x, Tensor& y) override {
    const WindowGeometry g = geometry(x.shape(), kind());
    max_ ? backend.max_pool_forward(x, y, g) : backend.avg_pool_forward(x, y, g);
  }
  void backward_data(Backend& backend, const Tensor& x, const Tensor&, const Tensor& dy, Tensor& dx, Pathway) override {
    const WindowGeometry g = geometry(x.shape(), kind());
    max_ ? backend.max_pool_backward(x, dy, dx, g) : backend.avg_pool_backward(x, dy, dx, g);
  }

 private:
  WindowGeometry geometry(const Shape& input, const std::string& label) const {
    return window_geometry(input, -1, kernel_, stride_, 0, label);
  }
  bool max_;
  int kernel_, stride_;
};

}  // namespace

std::unique_ptr<Layer> make_max_pool2d(int kernel, int stride) {
  return std::make_unique<Pool2d>(true, kernel, stride);
}
std::unique_ptr<Layer> make_avg_pool2d(int kernel, int stride) {
  return std::make_unique<Pool2d>(false, kernel, stride);
}

}  // namespace bioprop
