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

// A DendriteStep's tensors as raw pointers, after checking that every one the layer kind needs is there
// and has the drive's (N, units) size (labels: N).
inline DendriteArrays dendrite_arrays(const DendriteStep& s) {
  if (!s.drive || !s.psp) fail("dendrite_step: drive and psp are required");
  const Tensor& drive = *s.drive;
  if (drive.shape().rank() != 2) fail("dendrite_step: the drive must be (N, units), got {}", drive.shape().str());
  const bool neurons = s.layer != DendriteLayer::input;
  if (neurons && !s.soma) fail("dendrite_step: a hidden or output layer needs its soma");
  if (s.layer == DendriteLayer::hidden && s.apical_sum && !s.apical) fail("dendrite_step: apical_sum without apical");
  if (s.spiking && (!s.trace_fast || !s.trace_slow)) fail("dendrite_step: spiking needs both spike traces");
  if (s.labels && s.layer != DendriteLayer::output) fail("dendrite_step: labels belong to the output layer");
  if (s.labels && s.labels->numel() != static_cast<size_t>(drive.dim(0)))
    fail("dendrite_step: {} labels for a batch of {}", s.labels->numel(), drive.dim(0));
  for (const Tensor* t : {s.apical, static_cast<const Tensor*>(s.soma), static_cast<const Tensor*>(s.trace_fast),
                          static_cast<const Tensor*>(s.trace_slow), static_cast<const Tensor*>(s.psp),
                          static_cast<const Tensor*>(s.soma_sum), static_cast<const Tensor*>(s.apical_sum),
                          static_cast<const Tensor*>(s.rate_sum), static_cast<const Tensor*>(s.psp_sum)})
    if (t) expect_same_size(drive, *t, "dendrite_step");
  for (const Tensor* bias : {s.drive_bias, s.apical_bias})
    if (bias && bias->numel() != static_cast<size_t>(drive.dim(1)))
      fail("dendrite_step: a bias of {} values for {} units", bias->numel(), drive.dim(1));
  auto data = [](Tensor* t) { return t ? t->data() : nullptr; };
  DendriteArrays a;
  a.layer = s.layer;
  a.drive = drive.data();
  a.drive_bias = s.drive_bias ? s.drive_bias->data() : nullptr;
  a.apical = s.apical ? s.apical->data() : nullptr;
  a.apical_bias = s.apical && s.apical_bias ? s.apical_bias->data() : nullptr;
  a.labels = s.labels ? s.labels->data() : nullptr;
  a.soma = neurons ? s.soma->data() : nullptr;
  a.fast = s.spiking ? s.trace_fast->data() : nullptr;
  a.slow = s.spiking ? s.trace_slow->data() : nullptr;
  a.psp = s.psp->data();
  a.soma_sum = neurons ? data(s.soma_sum) : nullptr;
  a.apical_sum = data(s.apical_sum);
  a.rate_sum = data(s.rate_sum);
  a.psp_sum = data(s.psp_sum);
  a.units = drive.dim(1);
  a.spiking = s.spiking;
  a.k = s.constants;
  a.decay_fast = s.constants.decay_fast();
  a.decay_slow = s.constants.decay_slow();
  return a;
}

}  // namespace bioprop
