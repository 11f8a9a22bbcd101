#pragma once
// Convolutions through oneDNN (Debian's libdnnl): its direct JIT kernels in the library's blocked
// layouts, with reorders from and to our plain NCHW / OIHW tensors at each call (issue 18, item 2).
// Primitives are built once per geometry and kept; the blocked copies live in three shared slots
// that only grow, so steady-state calls allocate nothing.
#include <memory>

#include "bioprop/backend.hpp"

namespace bioprop {

class OnednnConvolution {
 public:
  OnednnConvolution();
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
