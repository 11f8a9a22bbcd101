#pragma once
// The activation functions and their derivatives, defined once for the CPU reference and the kernels.
#include <math.h>  // expf, logf, ... in the global namespace, as in device code

#include "bioprop/backend.hpp"
#include "bioprop/host_device.hpp"

namespace bioprop {

BIOPROP_HD inline float activate(Activation f, float a) {
  switch (f) {
    case Activation::relu:
      return a > 0.0f ? a : 0.0f;
    case Activation::sigmoid:
      return 1.0f / (1.0f + expf(-a));
    case Activation::tanh:
      return tanhf(a);
    case Activation::softplus:
      return a > 20.0f ? a : log1pf(expf(a));  // log(1 + e^a) without overflow
  }
  return 0.0f;
}

// f'(a), given a and h = f(a) (sigmoid and tanh reuse h).
BIOPROP_HD inline float activation_derivative(Activation f, float a, float h) {
  switch (f) {
    case Activation::relu:
      return a > 0.0f ? 1.0f : 0.0f;
    case Activation::sigmoid:
      return h * (1.0f - h);
    case Activation::tanh:
      return 1.0f - h * h;
    case Activation::softplus:
      return 1.0f / (1.0f + expf(-a));
  }
  return 0.0f;
}

}  // namespace bioprop
