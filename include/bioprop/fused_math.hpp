#pragma once
// The element-wise formulas that the CPU reference and the CUDA kernels both compute and that we claim
// to match bit for bit, written with explicit fused multiply-adds. nvcc contracts `a + b * c` into one
// FMA (one rounding) while g++ at -std=c++20 rounds the product and the sum apart, so the same source
// text gave results 1 ulp apart on about half the values; fmaf() rounds once on both.
#include <math.h>

#include "bioprop/host_device.hpp"

namespace bioprop {

// low + (high - low) * u, u in (0, 1).
BIOPROP_HD inline float scale_uniform(float u, float low, float high) { return fmaf(high - low, u, low); }
// mean + stddev * z.
BIOPROP_HD inline float scale_normal(float z, float mean, float stddev) { return fmaf(stddev, z, mean); }
// x * (1 + stddev * z): multiplicative noise.
BIOPROP_HD inline float apply_noise(float x, float z, float stddev) { return x * fmaf(stddev, z, 1.0f); }

// alpha x + beta y + gamma z, in one fixed order of fused multiply-adds.
BIOPROP_HD inline float linear_combination_of(float alpha, float x, float beta, float y, float gamma, float z) {
  return fmaf(gamma, z, fmaf(beta, y, alpha * x));
}

// SGD with momentum and L2 weight decay (PyTorch's convention):
// v = momentum * v + (g + weight_decay * w);  w -= learning_rate * v.
BIOPROP_HD inline void sgd_update(float& w, float& v, float g, float learning_rate, float momentum,
                                  float weight_decay) {
  v = fmaf(momentum, v, fmaf(weight_decay, w, g));
  w = fmaf(-learning_rate, v, w);
}

// Adam (Kingma & Ba 2015, Algorithm 1) with the bias corrections folded into step_size and
// epsilon_hat (computed once per step on the host).
BIOPROP_HD inline void adam_update(float& w, float& m, float& v, float g, float beta1, float beta2, float weight_decay,
                                   float step_size, float epsilon_hat) {
  const float gi = fmaf(weight_decay, w, g);
  m = fmaf(beta1, m, (1.0f - beta1) * gi);
  v = fmaf(beta2, v, ((1.0f - beta2) * gi) * gi);
  w = fmaf(-step_size, m / (sqrtf(v) + epsilon_hat), w);
}

}  // namespace bioprop
