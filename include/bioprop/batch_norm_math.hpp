#pragma once
// Batch normalisation's per-value math (Ioffe & Szegedy 2015, Algorithm 1 and the gradients of its
// section 3), defined once for the CPU reference and the kernels.
#include <math.h>  // sqrtf in the global namespace, as in device code

#include "bioprop/host_device.hpp"

namespace bioprop {

BIOPROP_HD inline float batch_norm_inv_std(float variance, float epsilon) { return 1.0f / sqrtf(variance + epsilon); }

// dL/dx for one value: gamma / sigma * (dy - (sum_dy + xhat * sum_dy_xhat) / M), where the sums run over
// the M values of the channel in the batch (both zero for fixed, evaluation-mode statistics).
BIOPROP_HD inline float batch_norm_input_grad(float dy, float xhat, float gamma_inv_std, float sum_dy,
                                              float sum_dy_xhat, float inv_count) {
  return gamma_inv_std * (dy - (sum_dy + xhat * sum_dy_xhat) * inv_count);
}

}  // namespace bioprop
