// Sixteen Philox blocks at a time (philox_fill.hpp): the same rounds as rng.hpp's philox4x32, written
// lane by lane over the sixteen counters so that each round's multiplications are vector instructions.
#include "philox_fill.hpp"

namespace bioprop {

#if defined(__x86_64__) && defined(__GNUC__)
#define BIOPROP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BIOPROP_VECTOR_CLONES
#endif

BIOPROP_VECTOR_CLONES void compute_philox_chunk(uint64_t seed, uint64_t first_block, PhiloxChunk& chunk) {
  constexpr uint32_t multiplier0 = 0xD2511F53u, multiplier1 = 0xCD9E8D57u;
  constexpr uint32_t weyl0 = 0x9E3779B9u, weyl1 = 0xBB67AE85u;
  constexpr size_t n = philox_chunk_blocks;
  uint32_t c0[n], c1[n], c2[n], c3[n];  // word j of the sixteen counters: what a vector instruction takes
  for (size_t k = 0; k < n; ++k) {
    const uint64_t block = first_block + k;
    c0[k] = static_cast<uint32_t>(block);
    c1[k] = static_cast<uint32_t>(block >> 32);
    c2[k] = 0;
    c3[k] = 0;
  }
  uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    // Not unrolled: GCC would unroll the sixteen counters into scalar code before vectorising them.
#pragma GCC unroll 1
    for (size_t k = 0; k < n; ++k) {
      const uint64_t product0 = uint64_t{multiplier0} * c0[k];
      const uint64_t product1 = uint64_t{multiplier1} * c2[k];
      const uint32_t next0 = static_cast<uint32_t>(product1 >> 32) ^ c1[k] ^ key0;
      const uint32_t next2 = static_cast<uint32_t>(product0 >> 32) ^ c3[k] ^ key1;
      c1[k] = static_cast<uint32_t>(product1);
      c3[k] = static_cast<uint32_t>(product0);
      c0[k] = next0;
      c2[k] = next2;
    }
    key0 += weyl0;
    key1 += weyl1;
  }
  for (size_t k = 0; k < n; ++k) {
    chunk.words[4 * k] = c0[k];
    chunk.words[4 * k + 1] = c1[k];
    chunk.words[4 * k + 2] = c2[k];
    chunk.words[4 * k + 3] = c3[k];
  }
}

}  // namespace bioprop
