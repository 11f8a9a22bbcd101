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

}  // namespace bioprop
