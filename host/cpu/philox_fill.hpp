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

inline size_t philox_blocks(size_t total) { return (total + 3) / 4; }

// Calls element(i, words, lane) for the elements i < total of block b, with the block's words. Always
// inlined, so that a caller compiled for FMA (fma_clones.hpp) runs the element's arithmetic with it.
template <typename Element>
[[gnu::always_inline]] inline void for_each_element_of_philox_block(size_t b, size_t total, uint64_t seed,
                                                                    uint64_t offset, Element element) {
  const PhiloxBlock words = philox_block(seed, offset + b);
  const size_t first = 4 * b, last = std::min(total, first + 4);
  for (size_t i = first; i < last; ++i) element(i, words, static_cast<unsigned>(i - first));
}

// Calls element(i, words, lane) for every element i < total, with the words of its block.
template <typename Element>
void for_each_philox_element(size_t total, uint64_t seed, uint64_t offset, Element element) {
  const size_t blocks = philox_blocks(total);
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t b = 0; b < blocks; ++b) for_each_element_of_philox_block(b, total, seed, offset, element);
}

// FMA-cloned callers (fma_clones.hpp) write this loop out themselves, calling
// for_each_element_of_philox_block: OpenMP outlines a loop body into a function of its own, which is
// cloned only when the loop sits in the cloned function itself, not in a template it calls.

}  // namespace bioprop
