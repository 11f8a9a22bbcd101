#include "bioprop/augmentation.hpp"

#include <algorithm>
#include <vector>

#include "bioprop/error.hpp"
#include "bioprop/rng.hpp"

namespace bioprop {

namespace {
// Philox stream of the augmentation draws: its own high bits keep it apart from the streams of
// initialisation, dropout and noise; block (epoch << 32) + sample gives each image its own words.
constexpr uint64_t augmentation_stream = uint64_t{0x6175676d} << 32;  // "augm"
}  // namespace

ImageTransform draw_transform(const Augmentation& augmentation, uint64_t seed, int epoch, size_t sample) {
  const PhiloxBlock words =
      philox_block(seed ^ augmentation_stream, (static_cast<uint64_t>(epoch) << 32) + static_cast<uint64_t>(sample));
  ImageTransform t;
  if (augmentation.crop_padding > 0) {
    const uint32_t choices = 2 * static_cast<uint32_t>(augmentation.crop_padding) + 1;
    t.dy = static_cast<int>(words[0] % choices) - augmentation.crop_padding;
    t.dx = static_cast<int>(words[1] % choices) - augmentation.crop_padding;
  }
  t.flip = augmentation.horizontal_flip && (words[2] & 1u);
  return t;
}

void augment_batch(const Augmentation& augmentation, Tensor& images, uint64_t seed, int epoch, size_t first) {
  if (!augmentation.enabled()) return;
  const Shape& shape = images.shape();
  if (shape.rank() != 4)
    fail("data augmentation needs images (N, C, H, W); this dataset's batches have shape {}", shape.str());
  const int batch = shape[0], channels = shape[1], height = shape[2], width = shape[3];
  if (augmentation.crop_padding >= height || augmentation.crop_padding >= width)
    fail("augment_crop {} must be smaller than the images ({}x{})", augmentation.crop_padding, height, width);
  const size_t plane = static_cast<size_t>(height) * static_cast<size_t>(width);
  std::vector<float> original(plane);
  for (int n = 0; n < batch; ++n) {
    const ImageTransform t = draw_transform(augmentation, seed, epoch, first + static_cast<size_t>(n));
    for (int c = 0; c < channels; ++c) {
      float* pixels = images.data() + (static_cast<size_t>(n) * static_cast<size_t>(channels) + c) * plane;
      std::copy_n(pixels, plane, original.begin());
      // Output (y, x) shows input (y + dy, x' + dx), x' = x or its mirror; outside the image is zero,
      // as a crop of the image padded with zeros by crop_padding on every side.
      for (int y = 0; y < height; ++y) {
        const int source_y = y + t.dy;
        for (int x = 0; x < width; ++x) {
          const int source_x = (t.flip ? width - 1 - x : x) + t.dx;
          const bool inside = source_y >= 0 && source_y < height && source_x >= 0 && source_x < width;
          pixels[static_cast<size_t>(y) * width + x] =
              inside ? original[static_cast<size_t>(source_y) * width + source_x] : 0.0f;
        }
      }
    }
  }
}

}  // namespace bioprop
