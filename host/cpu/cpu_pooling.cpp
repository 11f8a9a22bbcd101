// Reference max and average pooling (square windows, no padding).
#include <limits>

#include "cpu_backend.hpp"

namespace bioprop {

namespace {

// Calls visit(plane_index, in_plane_offset, out_plane_offset, oh, ow) for every output value.
template <typename Visit>
void for_each_output(const WindowGeometry& g, Visit visit) {
  const int planes = g.batch * g.in_channels;
#pragma omp parallel for schedule(static)
  for (int plane = 0; plane < planes; ++plane)
    for (int oh = 0; oh < g.out_h; ++oh)
      for (int ow = 0; ow < g.out_w; ++ow)
        visit(static_cast<size_t>(plane) * g.in_h * g.in_w,
              static_cast<size_t>(plane) * g.out_h * g.out_w + oh * g.out_w + ow, oh, ow);
}

// Index (within the plane) of the first maximum of the window feeding (oh, ow).
int argmax_in_window(const float* plane, const WindowGeometry& g, int oh, int ow) {
  int best = -1;
  float best_value = -std::numeric_limits<float>::infinity();
  for (int kh = 0; kh < g.kernel_h; ++kh)
    for (int kw = 0; kw < g.kernel_w; ++kw) {
      const int i = (oh * g.stride + kh) * g.in_w + ow * g.stride + kw;
      if (best < 0 || plane[i] > best_value) best = i, best_value = plane[i];
    }
  return best;
}
}  // namespace

void CpuBackend::max_pool_forward(const Tensor& x, Tensor& y, const WindowGeometry& g) {
  expect_window_shapes("max_pool_forward", g, x, y);
  for_each_output(g, [&](size_t in, size_t out, int oh, int ow) {
    const float* plane = x.data() + in;
    y.data()[out] = plane[argmax_in_window(plane, g, oh, ow)];
  });
}

void CpuBackend::max_pool_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const WindowGeometry& g) {
  expect_window_shapes("max_pool_backward", g, dx, dy);
  fill(dx, 0.0f);
  // Overlapping windows of one plane are visited by one thread, so += is race free.
  for_each_output(g, [&](size_t in, size_t out, int oh, int ow) {
    dx.data()[in + argmax_in_window(x.data() + in, g, oh, ow)] += dy.data()[out];
  });
}

void CpuBackend::avg_pool_forward(const Tensor& x, Tensor& y, const WindowGeometry& g) {
  expect_window_shapes("avg_pool_forward", g, x, y);
  const float inverse_area = 1.0f / static_cast<float>(g.kernel_h * g.kernel_w);
  for_each_output(g, [&](size_t in, size_t out, int oh, int ow) {
    float sum = 0.0f;
    for (int kh = 0; kh < g.kernel_h; ++kh)
      for (int kw = 0; kw < g.kernel_w; ++kw) sum += x.data()[in + (oh * g.stride + kh) * g.in_w + ow * g.stride + kw];
    y.data()[out] = sum * inverse_area;
  });
}

void CpuBackend::avg_pool_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const WindowGeometry& g) {
  expect_window_shapes("avg_pool_backward", g, dx, dy);
  expect_shape(x, dx.shape(), "avg_pool_backward input");
  fill(dx, 0.0f);
  const float inverse_area = 1.0f / static_cast<float>(g.kernel_h * g.kernel_w);
  for_each_output(g, [&](size_t in, size_t out, int oh, int ow) {
    const float share = dy.data()[out] * inverse_area;
    for (int kh = 0; kh < g.kernel_h; ++kh)
      for (int kw = 0; kw < g.kernel_w; ++kw)
        dx.data()[in + (oh * g.stride + kh) * g.in_w + ow * g.stride + kw] += share;
  });
}

}  // namespace bioprop
