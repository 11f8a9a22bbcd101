#include "bioprop/error.hpp"
#include "cpu_backend.hpp"

namespace bioprop {

namespace {
// Whether the window at (top, left) lies inside the image: its rows are then copied whole, without a
// check per element (the checks made gathering a fifth of the loccon net's BrainProp step).
bool window_inside(const WindowGeometry& g, int top, int left) {
  return top >= 0 && left >= 0 && top + g.kernel_h <= g.in_h && left + g.kernel_w <= g.in_w;
}
}  // namespace

void gather_patch(const float* image, const WindowGeometry& g, int oh, int ow, float* patch) {
  const int top = oh * g.stride - g.padding, left = ow * g.stride - g.padding;
  if (window_inside(g, top, left)) {
    for (int c = 0; c < g.in_channels; ++c)
      for (int kh = 0; kh < g.kernel_h; ++kh, patch += g.kernel_w) {
        const float* row = image + (static_cast<size_t>(c) * g.in_h + top + kh) * g.in_w + left;
        for (int kw = 0; kw < g.kernel_w; ++kw) patch[kw] = row[kw];
      }
    return;
  }
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
  if (window_inside(g, top, left)) {
    for (int c = 0; c < g.in_channels; ++c)
      for (int kh = 0; kh < g.kernel_h; ++kh, patch += g.kernel_w) {
        float* row = image + (static_cast<size_t>(c) * g.in_h + top + kh) * g.in_w + left;
        for (int kw = 0; kw < g.kernel_w; ++kw) row[kw] += patch[kw];
      }
    return;
  }
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
