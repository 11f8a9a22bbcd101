#pragma once
// A dataset whose every value says where it came from: image values count up through the whole tensor
// (wrapping at `wrap`, so large sets stay exact in floats), labels are the index mod 10. Batches that
// arrive out of order, twice, or unfilled show.
#include "bioprop/data.hpp"

namespace bioprop {

inline Dataset numbered_dataset(int n, const Shape& image = {1, 2, 3}, size_t wrap = 1u << 24) {
  Dataset d;
  d.classes = 10;
  d.images = Tensor({n, image[0], image[1], image[2]});
  d.labels = Tensor({n});
  for (size_t i = 0; i < d.images.numel(); ++i) d.images.at(i) = static_cast<float>(i % wrap);
  for (int i = 0; i < n; ++i) d.labels.at(static_cast<size_t>(i)) = static_cast<float>(i % 10);
  return d;
}

}  // namespace bioprop
