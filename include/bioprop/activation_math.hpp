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

// f'(a), from the pre-activation a only. `h` is not used: with activity noise (robustness experiments)
// h = f(a) + noise, and 1 - h^2 from a noisy h can even go negative; the derivative belongs to f at a.
BIOPROP_HD inline float activation_derivative(Activation f, float a, float /*h*/) {
  switch (f) {
    case Activation::relu:
      return a > 0.0f ? 1.0f : 0.0f;
    case Activation::sigmoid: {
      const float s = activate(Activation::sigmoid, a);
      return s * (1.0f - s);
    }
    case Activation::tanh: {
      const float t = tanhf(a);
      return 1.0f - t * t;
    }
    case Activation::softplus:
      return 1.0f / (1.0f + expf(-a));
  }
  return 0.0f;
}

}  // namespace bioprop
