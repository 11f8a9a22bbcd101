#pragma once
// Batch normalisation kernels (math shared with the CPU reference in batch_norm_math.hpp). The
// per-channel statistics and gradient sums are reduced in double in a fixed order (no atomics, the
// same result every run); the element-wise passes take one thread per value.
#include "bioprop/batch_norm_math.hpp"
#include "bioprop/cuda_launch.hpp"
#include "kernel_types.hpp"
#include "reductions.cuh"

namespace bioprop::kernels {

// Index of the k-th of the batch * inner values of channel c.
__device__ __forceinline__ size_t channel_value(const ChannelLayout& l, size_t c, size_t k) {
  return (k / l.inner * l.channels + c) * l.inner + k % l.inner;
}

// The per-channel sums are split over a grid of channels x splits blocks (a channel of a conv layer
// holds batch x H x W values, far more than one block should walk), each writing its partial sums in
// double; a second, small kernel adds each channel's partials in a fixed order. No atomics.
// Block (c, s) sums over its share of channel c's values: with dy null, x - p and (x - p)^2 for the
// channel's first value p (shifting keeps the one-pass variance exact when |mean| >> std); else
// dy * xhat and dy.
__global__ void batch_norm_partials_kernel(const float* __restrict__ x, const float* __restrict__ dy, ChannelLayout l,
                                           const float* __restrict__ mean, const float* __restrict__ variance,
                                           float epsilon, double* __restrict__ partials) {
  const size_t c = blockIdx.x, s = blockIdx.y, splits = gridDim.y, count = l.batch * l.inner;
  const size_t chunk = (count + splits - 1) / splits, begin = s * chunk;
  const size_t end = begin + chunk < count ? begin + chunk : count;
  double first = 0.0, second = 0.0;
  if (dy == nullptr) {
    const double pivot = x[channel_value(l, c, 0)];
    for (size_t k = begin + threadIdx.x; k < end; k += blockDim.x) {
      const double d = x[channel_value(l, c, k)] - pivot;
      first += d;
      second += d * d;
    }
  } else {
    const float mu = mean[c], inv_std = batch_norm_inv_std(variance[c], epsilon);
    for (size_t k = begin + threadIdx.x; k < end; k += blockDim.x) {
      const size_t i = channel_value(l, c, k);
      first += static_cast<double>(dy[i]) * ((x[i] - mu) * inv_std);
      second += dy[i];
    }
  }
  first = block_sum(first);
  __syncthreads();  // block_sum's shared totals are reused by the second sum
  second = block_sum(second);
  if (threadIdx.x == 0) {
    partials[(c * splits + s) * 2] = first;
    partials[(c * splits + s) * 2 + 1] = second;
  }
}

// Adds channel c's partials in split order: (first, second) sums.
__device__ __forceinline__ void channel_totals(const double* partials, size_t c, unsigned splits, double& first,
                                               double& second) {
  first = second = 0.0;
  for (unsigned s = 0; s < splits; ++s) {
    first += partials[(c * splits + s) * 2];
    second += partials[(c * splits + s) * 2 + 1];
  }
}

__global__ void batch_norm_statistics_final_kernel(const float* __restrict__ x, ChannelLayout l, unsigned splits,
                                                   const double* __restrict__ partials, float* __restrict__ mean,
                                                   float* __restrict__ variance) {
  const size_t c = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= l.channels) return;
  double shifted, squares;
  channel_totals(partials, c, splits, shifted, squares);
  const double count = static_cast<double>(l.batch * l.inner), shifted_mean = shifted / count;
  const double var = squares / count - shifted_mean * shifted_mean;
  mean[c] = static_cast<float>(x[channel_value(l, c, 0)] + shifted_mean);
  variance[c] = static_cast<float>(var > 0.0 ? var : 0.0);
}

__global__ void batch_norm_sums_final_kernel(ChannelLayout l, unsigned splits, const double* __restrict__ partials,
                                             float accumulate, float* __restrict__ sum_dy_xhat,
                                             float* __restrict__ sum_dy) {
  const size_t c = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= l.channels) return;
  double with_xhat, plain;
  channel_totals(partials, c, splits, with_xhat, plain);
  sum_dy_xhat[c] = accumulate * sum_dy_xhat[c] + static_cast<float>(with_xhat);
  sum_dy[c] = accumulate * sum_dy[c] + static_cast<float>(plain);
}

__global__ void batch_norm_forward_kernel(const float* __restrict__ x, ChannelLayout l, const float* __restrict__ mean,
                                          const float* __restrict__ variance, float epsilon,
                                          const float* __restrict__ gamma, const float* __restrict__ beta,
                                          float* __restrict__ y, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const size_t c = i / l.inner % l.channels;
  y[i] = gamma[c] * (x[i] - mean[c]) * batch_norm_inv_std(variance[c], epsilon) + beta[c];
}

__global__ void batch_norm_backward_data_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                                ChannelLayout l, const float* __restrict__ mean,
                                                const float* __restrict__ variance, float epsilon,
                                                const float* __restrict__ gamma, const float* __restrict__ sum_dy_xhat,
                                                const float* __restrict__ sum_dy, float* __restrict__ dx, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const size_t c = i / l.inner % l.channels;
  const float inv_std = batch_norm_inv_std(variance[c], epsilon);
  dx[i] = batch_norm_input_grad(dy[i], (x[i] - mean[c]) * inv_std, gamma[c] * inv_std, sum_dy[c], sum_dy_xhat[c],
                                1.0f / static_cast<float>(l.batch * l.inner));
}

// `workspace` holds batch_norm_workspace(l) doubles on the device.
BIOPROP_LAUNCHER void batch_norm_statistics(const float* x, const ChannelLayout& l, float* mean, float* variance,
                                            double* workspace, cudaStream_t stream) {
  const unsigned splits = batch_norm_splits(l), channels = static_cast<unsigned>(l.channels);
  launch<batch_norm_partials_kernel>(dim3(channels, splits), dim3(reduce_block), 0, stream, x, nullptr, l, nullptr,
                                     nullptr, 0.0f, workspace);
  launch<batch_norm_statistics_final_kernel>(dim3(blocks_for(l.channels, 64)), dim3(64), 0, stream, x, l, splits,
                                             workspace, mean, variance);
}

BIOPROP_LAUNCHER void batch_norm_sums(const float* dy, const float* x, const ChannelLayout& l, const float* mean,
                                      const float* variance, float epsilon, float accumulate, float* sum_dy_xhat,
                                      float* sum_dy, double* workspace, cudaStream_t stream) {
  const unsigned splits = batch_norm_splits(l), channels = static_cast<unsigned>(l.channels);
  launch<batch_norm_partials_kernel>(dim3(channels, splits), dim3(reduce_block), 0, stream, x, dy, l, mean, variance,
                                     epsilon, workspace);
  launch<batch_norm_sums_final_kernel>(dim3(blocks_for(l.channels, 64)), dim3(64), 0, stream, l, splits, workspace,
                                       accumulate, sum_dy_xhat, sum_dy);
}

BIOPROP_LAUNCHER void batch_norm_forward(const float* x, const ChannelLayout& l, const float* mean,
                                         const float* variance, float epsilon, const float* gamma, const float* beta,
                                         float* y, cudaStream_t stream) {
  const size_t n = l.batch * l.channels * l.inner;
  launch<batch_norm_forward_kernel>(dim3(blocks_for(n, 256)), dim3(256), 0, stream, x, l, mean, variance, epsilon,
                                    gamma, beta, y, n);
}

BIOPROP_LAUNCHER void batch_norm_backward_data(const float* dy, const float* x, const ChannelLayout& l,
                                               const float* mean, const float* variance, float epsilon,
                                               const float* gamma, const float* sum_dy_xhat, const float* sum_dy,
                                               float* dx, cudaStream_t stream) {
  const size_t n = l.batch * l.channels * l.inner;
  launch<batch_norm_backward_data_kernel>(dim3(blocks_for(n, 256)), dim3(256), 0, stream, dy, x, l, mean, variance,
                                          epsilon, gamma, sum_dy_xhat, sum_dy, dx, n);
}

}  // namespace bioprop::kernels
