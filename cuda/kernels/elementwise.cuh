#pragma once
// Element-wise kernels: activations and their derivatives (math shared with the CPU reference in
// activation_math.hpp), per-trial scaling of tags, and Philox random fills.
#include "bioprop/activation_math.hpp"
#include "bioprop/cuda_launch.hpp"
#include "bioprop/fused_math.hpp"
#include "bioprop/rng.hpp"

namespace bioprop::kernels {

constexpr unsigned elementwise_block = 256;

// Not restricted: a and h are the same buffer when the net runs a ReLU in place (Network::set_buffer_reuse).
__global__ void activation_forward_kernel(Activation f, const float* a, float* h, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) h[i] = activate(f, a[i]);
}

__global__ void activation_backward_kernel(Activation f, const float* __restrict__ a, const float* __restrict__ h,
                                           const float* __restrict__ dh, float* __restrict__ da, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) da[i] = dh[i] * activation_derivative(f, a[i], h[i]);
}

// out[b][i] = alpha * scale[b] * x[b][i]
__global__ void scale_samples_kernel(const float* __restrict__ x, const float* __restrict__ scale, float alpha,
                                     float* __restrict__ out, size_t sample, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = alpha * scale[i / sample] * x[i];
}

__global__ void random_normal_kernel(float* __restrict__ x, size_t n, float mean, float stddev, uint64_t seed,
                                     uint64_t offset, uint64_t first) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = scale_normal(philox_normal(seed, offset, first + i), mean, stddev);
}

__global__ void random_uniform_kernel(float* __restrict__ x, size_t n, float low, float high, uint64_t seed,
                                      uint64_t offset) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = scale_uniform(philox_uniform(seed, offset, i), low, high);
}

__global__ void fill_kernel(float* __restrict__ x, float value, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = value;
}

BIOPROP_LAUNCHER void fill(float* x, float value, size_t n, cudaStream_t stream) {
  launch<fill_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, x, value, n);
}

// x *= 1 + stddev * xi: multiplicative noise on updates (robustness experiments)
__global__ void multiply_by_noise_kernel(float* __restrict__ x, size_t n, float stddev, uint64_t seed,
                                         uint64_t offset) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = apply_noise(x[i], philox_normal(seed, offset, i), stddev);
}

__global__ void dropout_mask_kernel(float* __restrict__ mask, size_t n, float rate, uint64_t seed, uint64_t offset,
                                    uint64_t first) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) mask[i] = philox_uniform(seed, offset, first + i) >= rate ? 1.0f / (1.0f - rate) : 0.0f;
}

__global__ void multiply_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                                size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] * b[i];
}

BIOPROP_LAUNCHER void dropout_mask(float* mask, size_t n, float rate, uint64_t seed, uint64_t offset, uint64_t first,
                                   cudaStream_t stream) {
  launch<dropout_mask_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, mask, n, rate,
                              seed, offset, first);
}
BIOPROP_LAUNCHER void multiply(const float* a, const float* b, float* out, size_t n, cudaStream_t stream) {
  launch<multiply_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, a, b, out, n);
}

// out = alpha x + beta y + gamma z; out may alias an input (each thread reads its element before writing it)
__global__ void linear_combination_kernel(float alpha, const float* x, float beta, const float* y, float gamma,
                                          const float* z, float* out, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = linear_combination_of(alpha, x[i], beta, y[i], gamma, z[i]);
}

BIOPROP_LAUNCHER void linear_combination(float alpha, const float* x, float beta, const float* y, float gamma,
                                         const float* z, float* out, size_t n, cudaStream_t stream) {
  launch<linear_combination_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, alpha,
                                    x, beta, y, gamma, z, out, n);
}

// Dale's law: w keeps the sign of its unit (signs > 0: w >= 0; signs < 0: w <= 0)
__global__ void clamp_to_signs_kernel(float* __restrict__ w, const float* __restrict__ signs, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) w[i] = signs[i] > 0.0f ? fmaxf(w[i], 0.0f) : (signs[i] < 0.0f ? fminf(w[i], 0.0f) : w[i]);
}

BIOPROP_LAUNCHER void clamp_to_signs(float* w, const float* signs, size_t n, cudaStream_t stream) {
  launch<clamp_to_signs_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, w, signs,
                                n);
}

// out = scale * sign(x): sign-symmetric feedback
__global__ void sign_kernel(const float* __restrict__ x, float scale, float* __restrict__ out, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = x[i] > 0.0f ? scale : (x[i] < 0.0f ? -scale : 0.0f);
}

BIOPROP_LAUNCHER void multiply_by_noise(float* x, size_t n, float stddev, uint64_t seed, uint64_t offset,
                                        cudaStream_t stream) {
  launch<multiply_by_noise_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, x, n,
                                   stddev, seed, offset);
}
BIOPROP_LAUNCHER void sign(const float* x, float scale, float* out, size_t n, cudaStream_t stream) {
  launch<sign_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, x, scale, out, n);
}
BIOPROP_LAUNCHER void activation_forward(Activation f, const float* a, float* h, size_t n, cudaStream_t stream) {
  launch<activation_forward_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, f, a, h,
                                    n);
}
BIOPROP_LAUNCHER void activation_backward(Activation f, const float* a, const float* h, const float* dh, float* da,
                                          size_t n, cudaStream_t stream) {
  launch<activation_backward_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, f, a,
                                     h, dh, da, n);
}
BIOPROP_LAUNCHER void scale_samples(const float* x, const float* scale, float alpha, float* out, size_t batch,
                                    size_t sample, cudaStream_t stream) {
  const size_t n = batch * sample;
  launch<scale_samples_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, x, scale,
                               alpha, out, sample, n);
}
BIOPROP_LAUNCHER void random_normal(float* x, size_t n, float mean, float stddev, uint64_t seed, uint64_t offset,
                                    uint64_t first, cudaStream_t stream) {
  launch<random_normal_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, x, n, mean,
                               stddev, seed, offset, first);
}
BIOPROP_LAUNCHER void random_uniform(float* x, size_t n, float low, float high, uint64_t seed, uint64_t offset,
                                     cudaStream_t stream) {
  launch<random_uniform_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, x, n, low,
                                high, seed, offset);
}

}  // namespace bioprop::kernels
