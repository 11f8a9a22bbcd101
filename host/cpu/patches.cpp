#include "bioprop/error.hpp"
#include "cpu_backend.hpp"

namespace bioprop {

void gather_patch(const float* image, const WindowGeometry& g, int oh, int ow, float* patch) {
  const int top = oh * g.stride - g.padding, left = ow * g.stride - g.padding;
  for (int c = 0; c < g.in_channels; ++c) {
    const float* plane = image + static_cast<size_t>(c) * g.in_h * g.in_w;
    for (int kh = 0; kh < g.kernel_h; ++kh) {
      const int row = top + kh;
      for (int kw = 0; kw < g.kernel_w; ++kw) {
        const int col = left + kw;
        const bool inside = row >= 0 && row < g.in_h && col >= 0 && col < g.in_w;
        *patch++ = inside ? plane[row * g.in_w + col] : 0.0f;
      }
    }
  }
}

void scatter_patch_add(const float* patch, const WindowGeometry& g, int oh, int ow, float* image) {
  const int top = oh * g.stride - g.padding, left = ow * g.stride - g.padding;
  for (int c = 0; c < g.in_channels; ++c) {
    float* plane = image + static_cast<size_t>(c) * g.in_h * g.in_w;
    for (int kh = 0; kh < g.kernel_h; ++kh) {
      const int row = top + kh;
      for (int kw = 0; kw < g.kernel_w; ++kw, ++patch) {
        const int col = left + kw;
        if (row >= 0 && row < g.in_h && col >= 0 && col < g.in_w) plane[row * g.in_w + col] += *patch;
      }
    }
  }
}

void expect_shape(const Tensor& t, const Shape& shape, const char* what) {
  if (t.shape() != shape) fail("{}: expected shape {}, got {}", what, shape.str(), t.shape().str());
}

void expect_window_shapes(const char* op, const WindowGeometry& g, const Tensor& input, const Tensor& output,
                          const Tensor* weights, const Shape& weight_shape) {
  if (input.shape() != Shape{g.batch, g.in_channels, g.in_h, g.in_w})
    fail("{}: input (or its gradient) has shape {}, the geometry says ({},{},{},{})", op, input.shape().str(), g.batch,
         g.in_channels, g.in_h, g.in_w);
  if (output.shape() != Shape{g.batch, g.out_channels, g.out_h, g.out_w})
    fail("{}: output (or its gradient) has shape {}, the geometry says ({},{},{},{})", op, output.shape().str(),
         g.batch, g.out_channels, g.out_h, g.out_w);
  if (weights) expect_shape(*weights, weight_shape, op);
}

}  // namespace bioprop
