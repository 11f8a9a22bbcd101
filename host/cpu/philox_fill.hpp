#pragma once
// The CPU reference's Philox fills, one block of four words at a time. Element i of a stream (seed,
// offset) is lane i % 4 of block offset + i / 4 (rng.hpp), the same numbers the kernels draw one
// element per thread; here each block is computed once for its four elements, not once per element.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "bioprop/rng.hpp"
#include "cpu_backend.hpp"

namespace bioprop {

// Calls element(i, words, lane) for every element i < total, with the words of its block.
template <typename Element>
void for_each_philox_element(size_t total, uint64_t seed, uint64_t offset, Element element) {
  const size_t blocks = (total + 3) / 4;
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t b = 0; b < blocks; ++b) {
    const PhiloxBlock words = philox_block(seed, offset + b);
    const size_t first = 4 * b, last = std::min(total, first + 4);
    for (size_t i = first; i < last; ++i) element(i, words, static_cast<unsigned>(i - first));
  }
}

}  // namespace bioprop
