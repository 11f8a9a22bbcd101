#pragma once
// Convolutions through oneDNN (Debian's libdnnl): its JIT kernels in the library's blocked layouts,
// with reorders from and to our plain NCHW / OIHW tensors at each call (issue 18, item 2). With
// `winograd`, 3x3 stride-1 convolutions of 16 or more input channels use oneDNN's Winograd kernels
// (F(4x4, 3x3): 2-2.3x faster than its direct ones on the reference nets' layers, measured on an
// AVX-512 Xeon; with fewer channels they were slower) where the machine has them, direct otherwise.
// Primitives are built once per geometry and kept; the blocked copies live in three shared slots
// that only grow, so steady-state calls allocate nothing.
// Reorders that would repeat are skipped (Tensor::write_stamp tells that a tensor is unchanged): the forward
// pass keeps its input's blocked copy, by the input's storage, for the weight gradient of the same input, and
// a gradient dy loaded for the weight gradient is not loaded again for the backward-data pass (or the other way).
// A ReLU after the convolution can run as its post-op (forward with relu): no pass over y of its own.
#include <memory>

#include "bioprop/backend.hpp"

namespace bioprop {

class OnednnConvolution {
 public:
  explicit OnednnConvolution(bool winograd);
  ~OnednnConvolution();
  OnednnConvolution(const OnednnConvolution&) = delete;
  OnednnConvolution& operator=(const OnednnConvolution&) = delete;

  // y = conv(x, w), or max(conv(x, w), 0) with relu (in the same pass); with keep_input (training), x's blocked
  // copy is kept for backward_filter on the same x.
  void forward(const Tensor& x, const Tensor& weights, float* y, const WindowGeometry& g, bool keep_input,
               bool relu = false);
  // dx = conv^T(dy, w) (overwritten)
  void backward_data(const Tensor& dy, const Tensor& weights, float* dx, const WindowGeometry& g);
  // dweights = gradient of the weights (overwritten; the caller scales and adds for beta != 0)
  void backward_filter(const Tensor& dy, const Tensor& x, float* dweights, const WindowGeometry& g);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bioprop
