// Reference locally connected 2-D layer: like a convolution, but every output position p has its own
// filters W[p][oc][patch]. Work is batched over the images at each position (not one tiny product per
// position per image, as darknet does), and parallel over positions or images so no two threads
// write the same value.
#include <omp.h>

#include "cpu_backend.hpp"

namespace bioprop {

namespace {
Shape lc_weight_shape(const WindowGeometry& g) {
  return {g.out_h, g.out_w, g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
}
float dot_product(const float* a, const float* b, int n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}
}  // namespace

void CpuBackend::locally_connected_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) {
  expect_window_shapes("locally_connected_forward", g, x, y, &weights, lc_weight_shape(g));
  const int k = g.patch_size(), positions = g.positions();
  const size_t image_size = static_cast<size_t>(g.in_channels) * g.in_h * g.in_w;
  float* patches = scratch(patches_, static_cast<size_t>(omp_get_max_threads()) * k);
#pragma omp parallel for schedule(static)
  for (int p = 0; p < positions; ++p) {
    float* patch = patches + static_cast<size_t>(omp_get_thread_num()) * k;
    const float* filters = weights.data() + static_cast<size_t>(p) * g.out_channels * k;
    for (int n = 0; n < g.batch; ++n) {
      gather_patch(x.data() + n * image_size, g, p / g.out_w, p % g.out_w, patch);
      for (int oc = 0; oc < g.out_channels; ++oc)
        y.data()[(static_cast<size_t>(n) * g.out_channels + oc) * positions + p] =
            dot_product(filters + static_cast<size_t>(oc) * k, patch, k);
    }
  }
}

void CpuBackend::locally_connected_backward_data(const Tensor& dy, const Tensor& weights, Tensor& dx,
                                                 const WindowGeometry& g) {
  expect_window_shapes("locally_connected_backward_data", g, dx, dy, &weights, lc_weight_shape(g));
  fill(dx, 0.0f);
  const int k = g.patch_size(), positions = g.positions();
  const size_t image_size = static_cast<size_t>(g.in_channels) * g.in_h * g.in_w;
  float* patches = scratch(patches_, static_cast<size_t>(omp_get_max_threads()) * k);
  // Parallel over images: windows of neighbouring positions overlap, but images never do.
#pragma omp parallel for schedule(static)
  for (int n = 0; n < g.batch; ++n) {
    float* patch = patches + static_cast<size_t>(omp_get_thread_num()) * k;
    for (int p = 0; p < positions; ++p) {
      const float* filters = weights.data() + static_cast<size_t>(p) * g.out_channels * k;
      std::fill_n(patch, k, 0.0f);
      for (int oc = 0; oc < g.out_channels; ++oc) {
        const float delta = dy.data()[(static_cast<size_t>(n) * g.out_channels + oc) * positions + p];
        const float* filter = filters + static_cast<size_t>(oc) * k;
#pragma omp simd
        for (int i = 0; i < k; ++i) patch[i] += delta * filter[i];
      }
      scatter_patch_add(patch, g, p / g.out_w, p % g.out_w, dx.data() + n * image_size);
    }
  }
}

void CpuBackend::locally_connected_backward_weight(const Tensor& dy, const Tensor& x, float beta, Tensor& dweights,
                                                   const WindowGeometry& g) {
  expect_window_shapes("locally_connected_backward_weight", g, x, dy, &dweights, lc_weight_shape(g));
  const int k = g.patch_size(), positions = g.positions();
  const size_t image_size = static_cast<size_t>(g.in_channels) * g.in_h * g.in_w;
  float* patches = scratch(patches_, static_cast<size_t>(omp_get_max_threads()) * k);
#pragma omp parallel for schedule(static)
  for (int p = 0; p < positions; ++p) {
    float* patch = patches + static_cast<size_t>(omp_get_thread_num()) * k;
    float* grads = dweights.data() + static_cast<size_t>(p) * g.out_channels * k;
    for (size_t i = 0; i < static_cast<size_t>(g.out_channels) * k; ++i) grads[i] *= beta;
    if (beta == 0.0f) std::fill_n(grads, static_cast<size_t>(g.out_channels) * k, 0.0f);  // drop NaN/inf garbage
    for (int n = 0; n < g.batch; ++n) {
      gather_patch(x.data() + n * image_size, g, p / g.out_w, p % g.out_w, patch);
      for (int oc = 0; oc < g.out_channels; ++oc) {
        const float delta = dy.data()[(static_cast<size_t>(n) * g.out_channels + oc) * positions + p];
        float* grad = grads + static_cast<size_t>(oc) * k;
#pragma omp simd
        for (int i = 0; i < k; ++i) grad[i] += delta * patch[i];
      }
    }
  }
}

}  // namespace bioprop
