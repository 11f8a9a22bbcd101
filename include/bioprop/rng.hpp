#pragma once
// Counter-based random numbers (Philox4x32-10; Salmon et al. 2011, "Parallel random numbers: as
// easy as 1, 2, 3"). The value for (seed, offset, index) is a pure function, so the CPU and a GPU
// kernel draw the same numbers regardless of how the work is split among threads.
#include <math.h>  // expf, logf, ... in the global namespace, as in device code
#include <array>
#include <cstdint>

#include "bioprop/host_device.hpp"

namespace bioprop {

using PhiloxBlock = std::array<uint32_t, 4>;

BIOPROP_HD constexpr PhiloxBlock philox4x32(PhiloxBlock counter, std::array<uint32_t, 2> key) {
  constexpr uint32_t multiplier0 = 0xD2511F53u, multiplier1 = 0xCD9E8D57u;
  constexpr uint32_t weyl0 = 0x9E3779B9u, weyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t product0 = uint64_t{multiplier0} * counter[0];
    const uint64_t product1 = uint64_t{multiplier1} * counter[2];
    counter = {static_cast<uint32_t>(product1 >> 32) ^ counter[1] ^ key[0], static_cast<uint32_t>(product1),
               static_cast<uint32_t>(product0 >> 32) ^ counter[3] ^ key[1], static_cast<uint32_t>(product0)};
    key = {key[0] + weyl0, key[1] + weyl1};
  }
  return counter;
}

// Four 32-bit random words for block `block` of stream `seed`.
BIOPROP_HD constexpr PhiloxBlock philox_block(uint64_t seed, uint64_t block) {
  return philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u},
                    {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
}

// Uniform in the open interval (0, 1) from the top 24 bits of a word.
BIOPROP_HD constexpr float uniform_from_bits(uint32_t bits) {
  return (static_cast<float>(bits >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

// Element `index` of the uniform(0,1) stream (seed, offset): block offset + index/4, lane index%4.
BIOPROP_HD inline float philox_uniform(uint64_t seed, uint64_t offset, uint64_t index) {
  return uniform_from_bits(philox_block(seed, offset + index / 4)[index % 4]);
}
// Element `index` of the standard normal stream (seed, offset): Box-Muller on lanes (0,1) or (2,3)
// of block offset + index/4; even indexes take the cosine branch, odd ones the sine branch.
// Box-Muller on lanes (pair, pair + 1) of a block: the cosine (even element) or sine (odd) branch.
BIOPROP_HD inline float normal_from_block(const PhiloxBlock& words, unsigned element) {
  const unsigned lane = element & ~1u;
  const float radius = sqrtf(-2.0f * logf(uniform_from_bits(words[lane])));
  const float angle = 6.2831853071795864f * uniform_from_bits(words[lane + 1]);
  return element % 2 == 0 ? radius * cosf(angle) : radius * sinf(angle);
}
BIOPROP_HD inline float philox_normal(uint64_t seed, uint64_t offset, uint64_t index) {
  return normal_from_block(philox_block(seed, offset + index / 4), static_cast<unsigned>(index % 4));
}

// A small sequential generator for host-side choices (shuffles, splits), on top of Philox so its
// output is the same on every platform, unlike std::shuffle with std::mt19937.
class HostRng {
 public:
  explicit HostRng(uint64_t seed, uint64_t stream = 0) : seed_(seed), block_(stream << 40) {}
  uint32_t next_word();
  // Uniform integer in [0, bound).
  uint32_t below(uint32_t bound);

 private:
  uint64_t seed_;
  uint64_t block_;
  PhiloxBlock words_{};
  int used_ = 4;
};

}  // namespace bioprop
