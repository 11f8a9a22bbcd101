#pragma once
// Data augmentation of training batches: random translations (a zero-padded random crop of the
// image's own size) and horizontal flips, the usual augmentation for CIFAR-style benchmarks. The
// scheduler applies it to a batch in the host staging buffer, before the upload, so it costs the GPU
// nothing. The BrainProp reference code trains without augmentation, so it is off by default.
#include <cstddef>
#include <cstdint>

#include "bioprop/tensor.hpp"

namespace bioprop {

struct Augmentation {
  int crop_padding = 0;          // > 0: shift each image by up to this many pixels in x and y, zero fill
  bool horizontal_flip = false;  // mirror each image left-right with probability 1/2
  bool enabled() const { return crop_padding > 0 || horizontal_flip; }
};

// Augments the images (N, C, H, W) of a host batch in place. Image i is sample first + i of the
// epoch's order; its shift and flip are drawn from (seed, epoch, first + i) alone, so they do not
// depend on the batch size, the thread or the device.
void augment_batch(const Augmentation& augmentation, Tensor& images, uint64_t seed, int epoch, size_t first);

// The shift (dy, dx) and flip of one image, exposed for the tests.
struct ImageTransform {
  int dy = 0, dx = 0;
  bool flip = false;
};
ImageTransform draw_transform(const Augmentation& augmentation, uint64_t seed, int epoch, size_t sample);

}  // namespace bioprop
