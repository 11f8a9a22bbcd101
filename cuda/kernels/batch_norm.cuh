#pragma once
// Batch normalisation kernels (math shared with the CPU reference in batch_norm_math.hpp). The
// per-channel statistics and gradient sums take one block per channel, reduced in double in a fixed
// order (no atomics, same result every run); the element-wise passes take one thread per value.
#include "bioprop/batch_norm_math.hpp"
#include "bioprop/cuda_launch.hpp"
#include "kernel_types.hpp"
#include "reductions.cuh"

namespace bioprop::kernels {

// Index of the k-th of the batch * inner values of channel c.
__device__ __forceinline__ size_t channel_value(const ChannelLayout& l, size_t c, size_t k) {
  return (k / l.inner * l.channels + c) * l.inner + k % l.inner;
}

__global__ void batch_norm_statistics_kernel(const float* __restrict__ x, ChannelLayout l, float* __restrict__ mean,
                                             float* __restrict__ variance) {
  __shared__ double channel_mean;
  const size_t c = blockIdx.x, count = l.batch * l.inner;
  double sum = 0.0;
  for (size_t k = threadIdx.x; k < count; k += blockDim.x) sum += x[channel_value(l, c, k)];
  sum = block_sum(sum);
  if (threadIdx.x == 0) channel_mean = sum / static_cast<double>(count);
  __syncthreads();
  const double mu = channel_mean;
  double squares = 0.0;  // two passes: no cancellation when |mean| >> std
  for (size_t k = threadIdx.x; k < count; k += blockDim.x) {
    const double d = x[channel_value(l, c, k)] - mu;
    squares += d * d;
  }
  squares = block_sum(squares);
  if (threadIdx.x == 0) {
    mean[c] = static_cast<float>(mu);
    variance[c] = static_cast<float>(squares / static_cast<double>(count));
  }
}

__global__ void batch_norm_sums_kernel(const float* __restrict__ dy, const float* __restrict__ x, ChannelLayout l,
                                       const float* __restrict__ mean, const float* __restrict__ variance,
                                       float epsilon, float accumulate, float* __restrict__ sum_dy_xhat,
                                       float* __restrict__ sum_dy) {
  const size_t c = blockIdx.x, count = l.batch * l.inner;
  const float mu = mean[c], inv_std = batch_norm_inv_std(variance[c], epsilon);
  double with_xhat = 0.0, plain = 0.0;
  for (size_t k = threadIdx.x; k < count; k += blockDim.x) {
    const size_t i = channel_value(l, c, k);
    with_xhat += static_cast<double>(dy[i]) * ((x[i] - mu) * inv_std);
    plain += dy[i];
  }
  with_xhat = block_sum(with_xhat);
  __syncthreads();  // block_sum's shared totals are reused by the second sum
  plain = block_sum(plain);
  if (threadIdx.x == 0) {
    sum_dy_xhat[c] = accumulate * sum_dy_xhat[c] + static_cast<float>(with_xhat);
    sum_dy[c] = accumulate * sum_dy[c] + static_cast<float>(plain);
  }
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

BIOPROP_LAUNCHER void batch_norm_statistics(const float* x, const ChannelLayout& l, float* mean, float* variance,
                                            cudaStream_t stream) {
  launch(batch_norm_statistics_kernel, dim3(static_cast<unsigned>(l.channels)), dim3(reduce_block), 0, stream, x, l,
         mean, variance);
}

BIOPROP_LAUNCHER void batch_norm_sums(const float* dy, const float* x, const ChannelLayout& l, const float* mean,
                                      const float* variance, float epsilon, float accumulate, float* sum_dy_xhat,
                                      float* sum_dy, cudaStream_t stream) {
  launch(batch_norm_sums_kernel, dim3(static_cast<unsigned>(l.channels)), dim3(reduce_block), 0, stream, dy, x, l, mean,
         variance, epsilon, accumulate, sum_dy_xhat, sum_dy);
}

BIOPROP_LAUNCHER void batch_norm_forward(const float* x, const ChannelLayout& l, const float* mean,
                                         const float* variance, float epsilon, const float* gamma, const float* beta,
                                         float* y, cudaStream_t stream) {
  const size_t n = l.batch * l.channels * l.inner;
  launch(batch_norm_forward_kernel, dim3(blocks_for(n, 256)), dim3(256), 0, stream, x, l, mean, variance, epsilon,
         gamma, beta, y, n);
}

BIOPROP_LAUNCHER void batch_norm_backward_data(const float* dy, const float* x, const ChannelLayout& l,
                                               const float* mean, const float* variance, float epsilon,
                                               const float* gamma, const float* sum_dy_xhat, const float* sum_dy,
                                               float* dx, cudaStream_t stream) {
  const size_t n = l.batch * l.channels * l.inner;
  launch(batch_norm_backward_data_kernel, dim3(blocks_for(n, 256)), dim3(256), 0, stream, dy, x, l, mean, variance,
         epsilon, gamma, sum_dy_xhat, sum_dy, dx, n);
}

}  // namespace bioprop::kernels
