#pragma once
// Convolutions through oneDNN (Debian's libdnnl): its JIT kernels in the library's blocked layouts,
// with reorders from and to our plain NCHW / OIHW tensors at each call (issue 18, item 2). With
// `winograd`, 3x3 stride-1 convolutions of 16 or more input channels use oneDNN's Winograd kernels
// (F(4x4, 3x3): 2-2.3x faster than its direct ones on the reference nets' layers, measured on an
// AVX-512 Xeon; with fewer channels they were slower) where the machine has them, direct otherwise.
// Primitives are built once per geometry and kept; the blocked copies live in three shared slots
// that only grow, so steady-state calls allocate nothing.
#include <memory>

#include "bioprop/backend.hpp"

namespace bioprop {

class OnednnConvolution {
 public:
  explicit OnednnConvolution(bool winograd);
  ~OnednnConvolution();
  OnednnConvolution(const OnednnConvolution&) = delete;
  OnednnConvolution& operator=(const OnednnConvolution&) = delete;

  // y = conv(x, w)
  void forward(const float* x, const float* weights, float* y, const WindowGeometry& g);
  // dx = conv^T(dy, w) (overwritten)
  void backward_data(const float* dy, const float* weights, float* dx, const WindowGeometry& g);
  // dweights = gradient of the weights (overwritten; the caller scales and adds for beta != 0)
  void backward_filter(const float* dy, const float* x, float* dweights, const WindowGeometry& g);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bioprop
