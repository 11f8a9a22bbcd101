#include "bioprop/error.hpp"
#include "cpu_backend.hpp"

namespace bioprop {

namespace {
// When the window at (top, left) lies inside the image, calls row(image_offset, patch_offset) for each of
// its kernel_h x in_channels rows of kernel_w values and returns true: the rows are then copied whole,
// without a check per element (the checks made gathering a fifth of the loccon net's BrainProp step).
template <typename Row>
bool for_each_row_inside(const WindowGeometry& g, int top, int left, Row row) {
  if (top < 0 || left < 0 || top + g.kernel_h > g.in_h || left + g.kernel_w > g.in_w) return false;
  size_t patch_offset = 0;
  for (int c = 0; c < g.in_channels; ++c)
    for (int kh = 0; kh < g.kernel_h; ++kh, patch_offset += static_cast<size_t>(g.kernel_w))
      row((static_cast<size_t>(c) * g.in_h + top + kh) * g.in_w + left, patch_offset);
  return true;
}
}  // namespace

void gather_patch(const float* image, const WindowGeometry& g, int oh, int ow, float* patch) {
  const int top = oh * g.stride - g.padding, left = ow * g.stride - g.padding;
  if (for_each_row_inside(g, top, left, [&](size_t at, size_t to) {
        for (int kw = 0; kw < g.kernel_w; ++kw) patch[to + kw] = image[at + kw];
      }))
    return;
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
  if (for_each_row_inside(g, top, left, [&](size_t at, size_t from) {
        for (int kw = 0; kw < g.kernel_w; ++kw) image[at + kw] += patch[from + kw];
      }))
    return;
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
