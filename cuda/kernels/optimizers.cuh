#pragma once
// Optimiser steps, element-wise and in place (the same formulas as CpuBackend::sgd_step / adam_step).
#include "bioprop/backend.hpp"
#include "bioprop/cuda_launch.hpp"
#include "bioprop/fused_math.hpp"

namespace bioprop::kernels {

__global__ void sgd_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ v, SgdSettings s,
                           size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  sgd_update(w[i], v[i], g[i], s.learning_rate, s.momentum, s.weight_decay);
}

// step_size = lr * sqrt(1 - beta2^t) / (1 - beta1^t), epsilon_hat = epsilon * sqrt(1 - beta2^t), from the host.
__global__ void adam_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m,
                            float* __restrict__ v, AdamSettings s, float step_size, float epsilon_hat, size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  adam_update(w[i], m[i], v[i], g[i], s.beta1, s.beta2, s.weight_decay, step_size, epsilon_hat);
}

BIOPROP_LAUNCHER void sgd_step(float* w, const float* g, float* v, const SgdSettings& s, size_t n,
                               cudaStream_t stream) {
  launch<sgd_kernel>(dim3(blocks_for(n, 256)), dim3(256), 0, stream, w, g, v, s, n);
}

BIOPROP_LAUNCHER void adam_step(float* w, const float* g, float* m, float* v, const AdamSettings& s, int step, size_t n,
                                cudaStream_t stream) {
  const float correction1 = 1.0f - powf(s.beta1, static_cast<float>(step));
  const float correction2 = 1.0f - powf(s.beta2, static_cast<float>(step));
  launch<adam_kernel>(dim3(blocks_for(n, 256)), dim3(256), 0, stream, w, g, m, v, s,
                      s.learning_rate * sqrtf(correction2) / correction1, s.epsilon * sqrtf(correction2), n);
}

}  // namespace bioprop::kernels
