// Reference max and average pooling (square windows, no padding), with a loop of its own for the
// reference nets' 2x2 windows of stride 2 (the generic loop, a call per output, was a sixth of the deep
// net's step).
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
bool is_2x2_stride_2(const WindowGeometry& g) { return g.kernel_h == 2 && g.kernel_w == 2 && g.stride == 2; }

// argmax_in_window's rule for a 2x2 window (a, b over c, d): the first of the largest, in that order.
inline int first_maximum(float a, float b, float c, float d, float& best) {
  int index = 0;
  best = a;
  if (b > best) best = b, index = 1;
  if (c > best) best = c, index = 2;
  if (d > best) best = d, index = 3;
  return index;
}

// Calls visit(top_left, out) for every 2x2 window: the index of its top-left input and of its output.
template <typename Visit>
void for_each_2x2_window(const WindowGeometry& g, Visit visit) {
  const int planes = g.batch * g.in_channels;
#pragma omp parallel for schedule(static)
  for (int plane = 0; plane < planes; ++plane)
    for (int oh = 0; oh < g.out_h; ++oh) {
      const size_t top = (static_cast<size_t>(plane) * g.in_h + 2 * oh) * g.in_w;
      const size_t out = (static_cast<size_t>(plane) * g.out_h + oh) * g.out_w;
      for (int ow = 0; ow < g.out_w; ++ow) visit(top + 2 * static_cast<size_t>(ow), out + ow);
    }
}
}  // namespace

void CpuBackend::max_pool_forward(const Tensor& x, Tensor& y, const WindowGeometry& g) {
  expect_window_shapes("max_pool_forward", g, x, y);
  if (is_2x2_stride_2(g)) {
    const float* in = x.data();
    float* out = y.data();
    const size_t below = static_cast<size_t>(g.in_w);
    return for_each_2x2_window(g, [&](size_t top_left, size_t at) {
      first_maximum(in[top_left], in[top_left + 1], in[top_left + below], in[top_left + below + 1], out[at]);
    });
  }
  for_each_output(g, [&](size_t in, size_t out, int oh, int ow) {
    const float* plane = x.data() + in;
    y.data()[out] = plane[argmax_in_window(plane, g, oh, ow)];
  });
}

void CpuBackend::max_pool_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const WindowGeometry& g) {
  expect_window_shapes("max_pool_backward", g, dx, dy);
  if (is_2x2_stride_2(g)) {
    // Every input of a window is written (the gradient or 0); only an odd last row or column is not.
    if (g.in_h != 2 * g.out_h || g.in_w != 2 * g.out_w) fill(dx, 0.0f);
    const float* in = x.data();
    const float* upstream = dy.data();
    float* gradient = dx.data();
    const size_t below = static_cast<size_t>(g.in_w);
    for_each_2x2_window(g, [&](size_t top_left, size_t at) {
      const size_t window[4] = {top_left, top_left + 1, top_left + below, top_left + below + 1};
      float best;
      const int chosen = first_maximum(in[window[0]], in[window[1]], in[window[2]], in[window[3]], best);
      for (int k = 0; k < 4; ++k) gradient[window[k]] = k == chosen ? upstream[at] : 0.0f;
    });
    return;
  }
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
