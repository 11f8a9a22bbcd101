// Data augmentation: shifts and flips as a zero-padded crop, per-sample draws independent of the
// batching, and errors for inputs that are not images.
#include <gtest/gtest.h>

#include <set>

#include "bioprop/augmentation.hpp"
#include "bioprop/data.hpp"
#include "bioprop/error.hpp"

namespace bioprop {
namespace {

Tensor numbered_images(int batch, int channels, int height, int width) {
  Tensor images({batch, channels, height, width});
  for (size_t i = 0; i < images.numel(); ++i) images.data()[i] = static_cast<float>(i + 1);
  return images;
}

float at(const Tensor& t, int n, int c, int y, int x) {
  const Shape& s = t.shape();
  return t.data()[((static_cast<size_t>(n) * s[1] + c) * s[2] + y) * s[3] + x];
}

// The textbook definition: pad with `padding` zeros on every side, mirror if asked, and cut the
// original size out at offset (padding + dy, padding + dx).
float padded_crop(const Tensor& original, int n, int c, int y, int x, const ImageTransform& t, int padding) {
  const int height = original.shape()[2], width = original.shape()[3];
  const int padded_y = padding + t.dy + y, padded_x = padding + t.dx + (t.flip ? width - 1 - x : x);
  const int source_y = padded_y - padding, source_x = padded_x - padding;
  if (source_y < 0 || source_y >= height || source_x < 0 || source_x >= width) return 0.0f;
  return at(original, n, c, source_y, source_x);
}

TEST(Augmentation, OffLeavesTheBatchAlone) {
  const Tensor original = numbered_images(3, 2, 5, 4);
  Tensor images = original.clone();
  augment_batch({}, images, 1, 1, 0);
  for (size_t i = 0; i < images.numel(); ++i) ASSERT_EQ(images.data()[i], original.data()[i]);
}

TEST(Augmentation, EqualsAZeroPaddedRandomCropWithFlips) {
  const Augmentation augmentation{2, true};
  const Tensor original = numbered_images(16, 3, 6, 7);
  Tensor images = original.clone();
  augment_batch(augmentation, images, 5, 3, 40);
  int shifted = 0, flipped = 0;
  for (int n = 0; n < 16; ++n) {
    const ImageTransform t = draw_transform(augmentation, 5, 3, 40 + static_cast<size_t>(n));
    shifted += t.dy != 0 || t.dx != 0;
    flipped += t.flip;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 6; ++y)
        for (int x = 0; x < 7; ++x)
          ASSERT_EQ(at(images, n, c, y, x), padded_crop(original, n, c, y, x, t, 2)) << n << " " << c << " " << y;
  }
  EXPECT_GT(shifted, 0);  // the draws did move and mirror images, so the comparison above tested them
  EXPECT_GT(flipped, 0);
}

TEST(Augmentation, FlipTwiceIsTheIdentity) {
  const Augmentation flip_only{0, true};
  const Tensor original = numbered_images(8, 1, 3, 5);
  Tensor images = original.clone();
  augment_batch(flip_only, images, 9, 1, 0);
  bool changed = false;
  for (size_t i = 0; i < images.numel(); ++i) changed |= images.data()[i] != original.data()[i];
  EXPECT_TRUE(changed);
  augment_batch(flip_only, images, 9, 1, 0);
  for (size_t i = 0; i < images.numel(); ++i) ASSERT_EQ(images.data()[i], original.data()[i]);
}

TEST(Augmentation, DrawsCoverEveryShiftAndFlipHalfTheTime) {
  const Augmentation augmentation{3, true};
  std::set<int> dys, dxs;
  int flips = 0;
  const int samples = 4000;
  for (int i = 0; i < samples; ++i) {
    const ImageTransform t = draw_transform(augmentation, 1, 1, static_cast<size_t>(i));
    ASSERT_LE(std::abs(t.dy), 3);
    ASSERT_LE(std::abs(t.dx), 3);
    dys.insert(t.dy);
    dxs.insert(t.dx);
    flips += t.flip;
  }
  EXPECT_EQ(dys.size(), 7u);
  EXPECT_EQ(dxs.size(), 7u);
  EXPECT_NEAR(static_cast<double>(flips) / samples, 0.5, 0.03);  // 4 standard deviations
}

TEST(Augmentation, DependsOnTheSampleAndEpochNotOnTheBatching) {
  const Augmentation augmentation{2, true};
  const Tensor original = numbered_images(8, 1, 5, 5);
  Tensor whole = original.clone();
  augment_batch(augmentation, whole, 7, 2, 0);
  Tensor first_half({4, 1, 5, 5}), second_half({4, 1, 5, 5});
  std::copy_n(original.data(), 100, first_half.data());
  std::copy_n(original.data() + 100, 100, second_half.data());
  augment_batch(augmentation, first_half, 7, 2, 0);
  augment_batch(augmentation, second_half, 7, 2, 4);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(whole.data()[i], first_half.data()[i]);
    ASSERT_EQ(whole.data()[100 + i], second_half.data()[i]);
  }
  int differ = 0;
  for (size_t s = 0; s < 64; ++s) {
    const ImageTransform a = draw_transform(augmentation, 7, 2, s), b = draw_transform(augmentation, 7, 3, s);
    differ += a.dy != b.dy || a.dx != b.dx || a.flip != b.flip;
  }
  EXPECT_GT(differ, 32);  // another epoch, other transforms
}

TEST(Augmentation, BatchIteratorAugmentsItsBatches) {
  Dataset data;
  data.name = "numbers";
  data.classes = 2;
  data.images = numbered_images(6, 1, 4, 4);
  data.labels = Tensor({6});
  const Augmentation augmentation{1, true};
  auto backend = make_cpu_backend();
  BatchIterator plain(data, 4, true, 3, 2), augmented(data, 4, true, 3, 2, augmentation);
  Batch a, b;
  size_t first = 0;
  while (plain.next(*backend, a)) {
    ASSERT_TRUE(augmented.next(*backend, b));
    augment_batch(augmentation, a.inputs, 3, 2, first);
    for (size_t i = 0; i < a.inputs.numel(); ++i) ASSERT_EQ(a.inputs.data()[i], b.inputs.data()[i]);
    first += static_cast<size_t>(a.inputs.shape()[0]);
  }
}

TEST(Augmentation, RefusesInputsThatAreNotImagesAndCropsAsLargeAsTheImage) {
  Tensor vectors({4, 10});
  EXPECT_THROW(augment_batch({1, false}, vectors, 1, 1, 0), Error);
  Tensor images = numbered_images(1, 1, 3, 3);
  try {
    augment_batch({3, false}, images, 1, 1, 0);
    FAIL() << "a crop padding as large as the image was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("augment_crop 3 must be smaller than the images (3x3)"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace bioprop
