#pragma once
// The operand checks every backend makes before it computes (host code only: the errors are
// formatted with fmt, which nvcc does not compile). A wrong shape is a programming error in a layer
// or rule; on a GPU it would otherwise be an out-of-bounds access.
#include "bioprop/backend.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

inline void expect_same_size(const Tensor& a, const Tensor& b, const char* what) {
  if (a.numel() != b.numel()) fail("{}: sizes differ, {} vs {}", what, a.shape().str(), b.shape().str());
}

inline void expect_shape(const Tensor& t, const Shape& shape, const char* what) {
  if (t.shape() != shape) fail("{}: expected shape {}, got {}", what, shape.str(), t.shape().str());
}

// Weights of a convolution (OC, C, KH, KW) and of a locally connected layer (OH, OW, OC, C, KH, KW).
inline Shape conv_filter_shape(const WindowGeometry& g) {
  return {g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
}
inline Shape lc_weight_shape(const WindowGeometry& g) {
  return {g.out_h, g.out_w, g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
}

// The shape checks of a window operation `op`: input (N,C,H,W) and output (N,OC,OH,OW) from the
// geometry (either may be a gradient), and the weights when the operation has them.
inline void expect_window_shapes(const char* op, const WindowGeometry& g, const Tensor& input, const Tensor& output,
                                 const Tensor* weights = nullptr, const Shape& weight_shape = {}) {
  if (input.shape() != Shape{g.batch, g.in_channels, g.in_h, g.in_w})
    fail("{}: input (or its gradient) has shape {}, the geometry says ({},{},{},{})", op, input.shape().str(), g.batch,
         g.in_channels, g.in_h, g.in_w);
  if (output.shape() != Shape{g.batch, g.out_channels, g.out_h, g.out_w})
    fail("{}: output (or its gradient) has shape {}, the geometry says ({},{},{},{})", op, output.shape().str(),
         g.batch, g.out_channels, g.out_h, g.out_w);
  if (weights) expect_shape(*weights, weight_shape, op);
}

}  // namespace bioprop
