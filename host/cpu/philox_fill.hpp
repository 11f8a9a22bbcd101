#pragma once
// The CPU reference's Philox fills. Element i of a stream (seed, offset) is lane i % 4 of block
// offset + i / 4 (rng.hpp), the same numbers the kernels draw one element per thread; here each block is
// computed once for its four elements, sixteen blocks at a time.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "bioprop/rng.hpp"
#include "cpu_backend.hpp"

namespace bioprop {

// Sixteen consecutive blocks, computed together (philox_chunk.cpp, compiled for AVX2 and AVX-512 where
// the machine has them): one block at a time, the ten rounds were a chain of dependent scalar
// multiplications, and the dropout masks alone a tenth of the conv net's training step.
constexpr size_t philox_chunk_blocks = 16, philox_chunk_elements = 4 * philox_chunk_blocks;
struct PhiloxChunk {
  std::array<uint32_t, philox_chunk_elements> words;  // in element order: word j of block k at 4 k + j
  PhiloxBlock block(size_t k) const { return {words[4 * k], words[4 * k + 1], words[4 * k + 2], words[4 * k + 3]}; }
};
// chunk.block(k) == philox_block(seed, first_block + k) for k < 16.
void compute_philox_chunk(uint64_t seed, uint64_t first_block, PhiloxChunk& chunk);

inline size_t philox_chunks(size_t total) { return (total + philox_chunk_elements - 1) / philox_chunk_elements; }

// Calls element(i, words, lane) for the elements i < total of chunk c, with the words of their block.
// Always inlined, so that a caller compiled for FMA (fma_clones.hpp) runs the element's arithmetic with it.
template <typename Element>
[[gnu::always_inline]] inline void for_each_element_of_philox_chunk(size_t c, size_t total, uint64_t seed,
                                                                    uint64_t offset, Element element) {
  PhiloxChunk chunk;
  compute_philox_chunk(seed, offset + c * philox_chunk_blocks, chunk);
  const size_t first = c * philox_chunk_elements, last = std::min(total, first + philox_chunk_elements);
  for (size_t block_first = first, k = 0; block_first < last; block_first += 4, ++k) {
    const PhiloxBlock words = chunk.block(k);
    for (size_t i = block_first; i < std::min(last, block_first + 4); ++i)
      element(i, words, static_cast<unsigned>(i - block_first));
  }
}

// Elements first + e (e < total) of a stream whose block `offset` holds elements 0..3: those before the next
// block boundary one at a time (one(e, index): index = first + e), the rest by whole blocks from there
// (aligned(e0, count, block): elements e0 .., whose stream starts at block `block`). Per-trial draws start at
// the rank's place in the global batch, which need not fall on a block boundary.
template <typename One, typename Aligned>
void draw_from_element(size_t total, uint64_t offset, uint64_t first, One one, Aligned aligned) {
  const size_t lead = std::min<size_t>(total, static_cast<size_t>((4 - first % 4) % 4));
  for (size_t e = 0; e < lead; ++e) one(e, first + e);
  if (total > lead) aligned(lead, total - lead, offset + (first + lead) / 4);
}

// Callers write the loop over chunks themselves (`for c < philox_chunks(total)`, under omp parallel for):
// OpenMP outlines a loop body into a function of its own, which an FMA-cloned caller (fma_clones.hpp)
// clones only when the loop sits in the cloned function itself, not in a template it calls.

}  // namespace bioprop
