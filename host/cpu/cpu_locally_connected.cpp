// Reference locally connected 2-D layer: like a convolution, but every output position p has its own
// filters W[p][oc][patch]. At each position the batch's receptive fields are gathered into a matrix
// P (images x patch), and the work is three small sgemms per position: Y_p = P W_p^T (forward),
// dW_p = dY_p^T P (weights) and dP = dY_p W_p (data, scattered back into the images afterwards,
// image by image, since windows of neighbouring positions overlap). Positions run in parallel, each
// sgemm on one thread (oneDNN's and OpenBLAS's sgemm run single-threaded inside an OpenMP region).
#include <omp.h>

#include "cpu_backend.hpp"
#include "sgemm.hpp"

namespace bioprop {

namespace {
// P (images x patch) for position p.
void gather_position(const float* x, const WindowGeometry& g, int p, float* rows) {
  const size_t image_size = static_cast<size_t>(g.in_channels) * g.in_h * g.in_w;
  for (int n = 0; n < g.batch; ++n)
    gather_patch(x + n * image_size, g, p / g.out_w, p % g.out_w, rows + static_cast<size_t>(n) * g.patch_size());
}
// The (N, OC) values of output position p, from a (N, OC, positions) tensor.
void gather_position_values(const float* y, const WindowGeometry& g, int p, float* values) {
  const int positions = g.positions(), oc = g.out_channels;
  for (int i = 0; i < g.batch; ++i)
    for (int o = 0; o < oc; ++o)
      values[static_cast<size_t>(i) * oc + o] = y[(static_cast<size_t>(i) * oc + o) * positions + p];
}
}  // namespace

void CpuBackend::locally_connected_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) {
  expect_window_shapes("locally_connected_forward", g, x, y, &weights, lc_weight_shape(g));
  const int k = g.patch_size(), positions = g.positions(), n = g.batch, oc = g.out_channels;
  const size_t per_thread = static_cast<size_t>(n) * (k + oc);
  float* buffers = scratch(patches_, static_cast<size_t>(omp_get_max_threads()) * per_thread);
  float* out = y.data();
#pragma omp parallel for schedule(static)
  for (int p = 0; p < positions; ++p) {
    float* rows = buffers + static_cast<size_t>(omp_get_thread_num()) * per_thread;
    float* outputs = rows + static_cast<size_t>(n) * k;
    gather_position(x.data(), g, p, rows);
    sgemm(false, true, n, oc, k, 1.0f, rows, k, weights.data() + static_cast<size_t>(p) * oc * k, k, 0.0f, outputs, oc);
    for (int i = 0; i < n; ++i)
      for (int o = 0; o < oc; ++o)
        out[(static_cast<size_t>(i) * oc + o) * positions + p] = outputs[static_cast<size_t>(i) * oc + o];
  }
}

void CpuBackend::locally_connected_backward_data(const Tensor& dy, const Tensor& weights, Tensor& dx,
                                                 const WindowGeometry& g) {
  expect_window_shapes("locally_connected_backward_data", g, dx, dy, &weights, lc_weight_shape(g));
  const int k = g.patch_size(), positions = g.positions(), n = g.batch, oc = g.out_channels;
  // dP for every position first (positions x images x patch), then the scatter, image by image.
  float* all_rows = scratch(product_, static_cast<size_t>(positions) * n * k);
  const size_t per_thread = static_cast<size_t>(n) * oc;
  float* buffers = scratch(patches_, static_cast<size_t>(omp_get_max_threads()) * per_thread);
#pragma omp parallel for schedule(static)
  for (int p = 0; p < positions; ++p) {
    float* deltas = buffers + static_cast<size_t>(omp_get_thread_num()) * per_thread;
    gather_position_values(dy.data(), g, p, deltas);
    sgemm(false, false, n, k, oc, 1.0f, deltas, oc, weights.data() + static_cast<size_t>(p) * oc * k, k, 0.0f,
          all_rows + static_cast<size_t>(p) * n * k, k);
  }
  fill(dx, 0.0f);
  const size_t image_size = static_cast<size_t>(g.in_channels) * g.in_h * g.in_w;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i)
    for (int p = 0; p < positions; ++p)
      scatter_patch_add(all_rows + (static_cast<size_t>(p) * n + i) * k, g, p / g.out_w, p % g.out_w,
                        dx.data() + i * image_size);
}

void CpuBackend::locally_connected_backward_weight(const Tensor& dy, const Tensor& x, float beta, Tensor& dweights,
                                                   const WindowGeometry& g) {
  expect_window_shapes("locally_connected_backward_weight", g, x, dy, &dweights, lc_weight_shape(g));
  const int k = g.patch_size(), positions = g.positions(), n = g.batch, oc = g.out_channels;
  const size_t per_thread = static_cast<size_t>(n) * (k + oc);
  float* buffers = scratch(patches_, static_cast<size_t>(omp_get_max_threads()) * per_thread);
#pragma omp parallel for schedule(static)
  for (int p = 0; p < positions; ++p) {
    float* rows = buffers + static_cast<size_t>(omp_get_thread_num()) * per_thread;
    float* deltas = rows + static_cast<size_t>(n) * k;
    float* grads = dweights.data() + static_cast<size_t>(p) * oc * k;
    if (beta == 0.0f) std::fill_n(grads, static_cast<size_t>(oc) * k, 0.0f);  // drop NaN/inf garbage
    gather_position(x.data(), g, p, rows);
    gather_position_values(dy.data(), g, p, deltas);
    sgemm(true, false, oc, k, n, 1.0f, deltas, oc, rows, k, beta, grads, k);
  }
}

}  // namespace bioprop
