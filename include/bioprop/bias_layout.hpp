#pragma once
// The broadcast layout of add_bias / bias_grad, shared by the backends (host code only: it formats
// its error with fmt, which nvcc does not compile).
#include "bioprop/error.hpp"
#include "bioprop/tensor.hpp"

namespace bioprop {

// bias index = (i / inner) % bias.numel() with inner = sample_size / bias.numel(): per feature for
// dense and locally connected layers, per channel for convolutions.
inline size_t bias_broadcast_inner(const Tensor& y, const Tensor& bias) {
  const size_t sample = y.shape().sample_size();
  if (bias.numel() == 0 || sample % bias.numel() != 0)
    fail("bias of {} values does not divide samples of {}", bias.numel(), y.shape().str());
  return sample / bias.numel();
}

}  // namespace bioprop
