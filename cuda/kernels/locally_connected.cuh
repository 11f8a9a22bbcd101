#pragma once
// Locally connected 2-D layer kernels (unshared weights W[p][oc][c][kh][kw], p = oh * out_w + ow).
// No library has them, so they are ours. Each output position p is a small GEMM over the batch:
//   forward          Y_p  (N x OC) = Patches_p (N x K) . W_p^T        (K = C * KH * KW)
//   backward-weight  dW_p (OC x K) = dY_p^T (OC x N) . Patches_p (N x K)
// and both are tiled 16 x 16 with the receptive fields gathered straight from the image into shared
// memory (an implicit im2col: nothing is materialised). Backward-data gathers, for every input
// element, the outputs whose windows cover it, so no atomics are needed (cf. cuda-convnet2, which
// keeps forward, input-gradient and weight-gradient kernels apart in the same way).
#include "bioprop/backend.hpp"
#include "bioprop/cuda_launch.hpp"
#include "bioprop/host_device.hpp"
#include "kernel_types.hpp"

namespace bioprop::kernels {

constexpr int lc_tile = 16;
inline unsigned lc_position_blocks(const WindowGeometry& g, unsigned cap = lc_max_position_blocks) {
  const unsigned positions = static_cast<unsigned>(g.out_h * g.out_w);
  return positions < cap ? positions : cap;
}

// Element k of the receptive field of image n at output (oh, ow); zero where it falls in the padding.
BIOPROP_HD inline float receptive_field_value(const float* x, const WindowGeometry& g, int n, int oh, int ow, int k) {
  const int window = g.kernel_h * g.kernel_w;
  const int c = k / window, kh = k % window / g.kernel_w, kw = k % g.kernel_w;
  const int row = oh * g.stride - g.padding + kh, col = ow * g.stride - g.padding + kw;
  if (row < 0 || row >= g.in_h || col < 0 || col >= g.in_w) return 0.0f;
  return x[((static_cast<size_t>(n) * g.in_channels + c) * g.in_h + row) * g.in_w + col];
}

// grid (ceil(N/16), ceil(OC/16), min(positions, 65535)), block (16, 16): thread (x = oc, y = n) owns
// y[n][oc][p] for p = blockIdx.z, blockIdx.z + gridDim.z, ...
__global__ void lc_forward_kernel(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                                  WindowGeometry g) {
  __shared__ float fields[lc_tile][lc_tile + 1];   // [n][k]; +1 avoids bank conflicts on column reads
  __shared__ float filters[lc_tile][lc_tile + 1];  // [oc][k]
  const int k_total = g.in_channels * g.kernel_h * g.kernel_w, positions = g.out_h * g.out_w;
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int n = static_cast<int>(blockIdx.x) * lc_tile + ty, oc = static_cast<int>(blockIdx.y) * lc_tile + tx;
  const int load_oc = static_cast<int>(blockIdx.y) * lc_tile + ty;
  for (int p = static_cast<int>(blockIdx.z); p < positions; p += static_cast<int>(gridDim.z)) {
    const int oh = p / g.out_w, ow = p % g.out_w;
    const float* w_p = w + static_cast<size_t>(p) * g.out_channels * k_total;
    float sum = 0.0f;
    for (int k0 = 0; k0 < k_total; k0 += lc_tile) {
      const int k = k0 + tx;  // consecutive threads read consecutive k: coalesced filter loads
      fields[ty][tx] = n < g.batch && k < k_total ? receptive_field_value(x, g, n, oh, ow, k) : 0.0f;
      filters[ty][tx] =
          load_oc < g.out_channels && k < k_total ? w_p[static_cast<size_t>(load_oc) * k_total + k] : 0.0f;
      __syncthreads();
      for (int i = 0; i < lc_tile; ++i) sum += fields[ty][i] * filters[tx][i];
      __syncthreads();
    }
    if (n < g.batch && oc < g.out_channels) y[(static_cast<size_t>(n) * g.out_channels + oc) * positions + p] = sum;
  }
}

// grid (ceil(K/16), ceil(OC/16), min(positions, 65535)), block (16, 16): thread (x = k, y = oc) owns
// dW[p][oc][k] for p = blockIdx.z, blockIdx.z + gridDim.z, ...;
// the batch is the reduction, walked in chunks of 16 staged in shared memory. `modulator` (one factor
// per trial, or null) scales each trial's deltas as they are staged: the fused three-factor update.
__global__ void lc_backward_weight_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                          const float* __restrict__ modulator, float alpha, float beta,
                                          float* __restrict__ dw, WindowGeometry g) {
  __shared__ float deltas[lc_tile][lc_tile + 1];  // [n][oc]
  __shared__ float fields[lc_tile][lc_tile + 1];  // [n][k]
  const int k_total = g.in_channels * g.kernel_h * g.kernel_w, positions = g.out_h * g.out_w;
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int k = static_cast<int>(blockIdx.x) * lc_tile + tx, oc = static_cast<int>(blockIdx.y) * lc_tile + ty;
  const int load_oc = static_cast<int>(blockIdx.y) * lc_tile + tx;
  for (int p = static_cast<int>(blockIdx.z); p < positions; p += static_cast<int>(gridDim.z)) {
    const int oh = p / g.out_w, ow = p % g.out_w;
    float sum = 0.0f;
    for (int n0 = 0; n0 < g.batch; n0 += lc_tile) {
      const int n = n0 + ty;
      deltas[ty][tx] = n < g.batch && load_oc < g.out_channels
                           ? (modulator ? modulator[n] : 1.0f) *
                                 dy[(static_cast<size_t>(n) * g.out_channels + load_oc) * positions + p]
                           : 0.0f;
      fields[ty][tx] = n < g.batch && k < k_total ? receptive_field_value(x, g, n, oh, ow, k) : 0.0f;
      __syncthreads();
      for (int i = 0; i < lc_tile; ++i) sum += deltas[i][ty] * fields[i][tx];
      __syncthreads();
    }
    if (oc < g.out_channels && k < k_total) {
      float* out = dw + (static_cast<size_t>(p) * g.out_channels + oc) * k_total + k;
      *out = beta == 0.0f ? alpha * sum : beta * *out + alpha * sum;  // beta = 0 never reads the old value
    }
  }
}

// One thread per input element dx[n][c][row][col]: sums dy[n][oc][p] * W[p][oc][c][kh][kw] over the
// output positions p whose window covers it (at most ceil(KH/s) * ceil(KW/s)) and all oc.
__global__ void lc_backward_data_kernel(const float* __restrict__ dy, const float* __restrict__ w,
                                        float* __restrict__ dx, WindowGeometry g) {
  const size_t total = static_cast<size_t>(g.batch) * g.in_channels * g.in_h * g.in_w;
  const size_t index = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= total) return;
  const int col = static_cast<int>(index % g.in_w), row = static_cast<int>(index / g.in_w % g.in_h);
  const int c = static_cast<int>(index / (static_cast<size_t>(g.in_w) * g.in_h) % g.in_channels);
  const int n = static_cast<int>(index / (static_cast<size_t>(g.in_w) * g.in_h * g.in_channels));
  const int window = g.kernel_h * g.kernel_w, k_total = g.in_channels * window, positions = g.out_h * g.out_w;
  float sum = 0.0f;
  for (int kh = 0; kh < g.kernel_h; ++kh) {
    const int top = row + g.padding - kh;  // = oh * stride for the covering output row
    if (top < 0 || top % g.stride != 0 || top / g.stride >= g.out_h) continue;
    const int oh = top / g.stride;
    for (int kw = 0; kw < g.kernel_w; ++kw) {
      const int left = col + g.padding - kw;
      if (left < 0 || left % g.stride != 0 || left / g.stride >= g.out_w) continue;
      const int p = oh * g.out_w + left / g.stride;
      const float* w_k = w + static_cast<size_t>(p) * g.out_channels * k_total + c * window + kh * g.kernel_w + kw;
      const float* dy_p = dy + static_cast<size_t>(n) * g.out_channels * positions + p;
      for (int oc = 0; oc < g.out_channels; ++oc)
        sum += dy_p[static_cast<size_t>(oc) * positions] * w_k[static_cast<size_t>(oc) * k_total];
    }
  }
  dx[index] = sum;
}

// position_block_cap lowers the cap on gridDim.z so the tests can reach the grid-stride loop on small shapes.
BIOPROP_LAUNCHER void locally_connected_forward(const float* x, const float* w, float* y, const WindowGeometry& g,
                                                cudaStream_t stream,
                                                unsigned position_block_cap = lc_max_position_blocks) {
  const dim3 grid(blocks_for(static_cast<size_t>(g.batch), lc_tile),
                  blocks_for(static_cast<size_t>(g.out_channels), lc_tile), lc_position_blocks(g, position_block_cap));
  launch<lc_forward_kernel>(grid, dim3(lc_tile, lc_tile), 0, stream, x, w, y, g);
}

// dw = beta * dw + alpha * sum_n modulator_n * (gradient of trial n); modulator null means all ones.
BIOPROP_LAUNCHER void locally_connected_backward_weight(const float* dy, const float* x, const float* modulator,
                                                        float alpha, float beta, float* dw, const WindowGeometry& g,
                                                        cudaStream_t stream,
                                                        unsigned position_block_cap = lc_max_position_blocks) {
  const int k_total = g.in_channels * g.kernel_h * g.kernel_w;
  const dim3 grid(blocks_for(static_cast<size_t>(k_total), lc_tile),
                  blocks_for(static_cast<size_t>(g.out_channels), lc_tile), lc_position_blocks(g, position_block_cap));
  launch<lc_backward_weight_kernel>(grid, dim3(lc_tile, lc_tile), 0, stream, dy, x, modulator, alpha, beta, dw, g);
}

BIOPROP_LAUNCHER void locally_connected_backward_data(const float* dy, const float* w, float* dx,
                                                      const WindowGeometry& g, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(g.batch) * g.in_channels * g.in_h * g.in_w;
  launch<lc_backward_data_kernel>(dim3(blocks_for(total, 256)), dim3(256), 0, stream, dy, w, dx, g);
}

}  // namespace bioprop::kernels
