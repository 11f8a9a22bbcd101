#pragma once
// Output geometry of window layers (conv, locally connected, pooling), with the shape checks that
// turn a net that does not fit its input into a clear error.
#include <string>

#include "bioprop/backend.hpp"
#include "bioprop/checked_size.hpp"
#include "bioprop/error.hpp"
#include "bioprop/layers.hpp"

namespace bioprop {

inline WindowGeometry window_geometry(const Shape& input, int out_channels, int kernel, int stride, int padding,
                                      const std::string& layer) {
  if (input.rank() != 4)
    fail("{} needs images (N,C,H,W) as input, got shape {}; put it before any dense or flatten layer", layer,
         input.str());
  if (kernel < 1 || stride < 1 || padding < 0)
    fail("{}: kernel {} / stride {} / padding {} must be positive (padding >= 0)", layer, kernel, stride, padding);
  if (padding >= kernel)  // a window wholly in the padding sees only zeros; a huge padding overflows sizes
    fail("{}: padding {} must be smaller than the kernel ({})", layer, padding, kernel);
  WindowGeometry g;
  g.batch = input[0];
  g.in_channels = input[1], g.in_h = input[2], g.in_w = input[3];
  g.kernel_h = g.kernel_w = kernel;
  g.stride = stride, g.padding = padding;
  // In 64 bits: 2 * padding and the padded sizes may not fit an int.
  const int64_t padded_h = int64_t{input[2]} + 2 * int64_t{padding},
                padded_w = int64_t{input[3]} + 2 * int64_t{padding};
  if (padded_h < kernel || padded_w < kernel)
    fail("{}: a {}x{} window (padding {}) does not fit the {}x{} input", layer, kernel, kernel, padding, input[2],
         input[3]);
  g.out_channels = out_channels < 0 ? g.in_channels : out_channels;
  g.out_h = static_cast<int>((padded_h - kernel) / stride + 1);
  g.out_w = static_cast<int>((padded_w - kernel) / stride + 1);
  checked_int_product({g.out_channels, g.out_h, g.out_w}, layer + ": output values per sample");
  checked_int_product({g.in_channels, kernel, kernel}, layer + ": values per window (channels x kernel x kernel)");
  return g;
}

inline Shape output_shape_of(const WindowGeometry& g) { return {g.batch, g.out_channels, g.out_h, g.out_w}; }

// The settings that Conv2d and LocallyConnected2d share: output channels, square kernel, stride, padding.
class WindowWeightedLayer : public WeightedLayer {
 public:
  WindowWeightedLayer(const char* kind, int channels, int kernel, int stride, int padding, bool use_bias)
      : WeightedLayer(use_bias), channels_(channels), kernel_(kernel), stride_(stride), padding_(padding) {
    if (channels < 1) fail("{}: channels must be at least 1, got {}", kind, channels);
  }
  std::string settings() const override {
    return fmt::format("{} {}x{} s{} p{}{}", channels_, kernel_, kernel_, stride_, padding_,
                       use_bias_ ? "" : " no-bias");
  }

  // The window of this layer on `input` (N,C,H,W): what a learned inverse needs to undo it.
  WindowGeometry geometry_on(const Shape& input) const { return window(input, kind()); }

 protected:
  WindowGeometry window(const Shape& input, const std::string& label) const {
    return window_geometry(input, channels_, kernel_, stride_, padding_, label);
  }
  int channels_, kernel_, stride_, padding_;
};

}  // namespace bioprop
