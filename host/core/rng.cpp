#include "bioprop/rng.hpp"

#include <cmath>
#include <numbers>

namespace bioprop {

float philox_uniform(uint64_t seed, uint64_t offset, uint64_t index) {
  return uniform_from_bits(philox_block(seed, offset + index / 4)[index % 4]);
}

float philox_normal(uint64_t seed, uint64_t offset, uint64_t index) {
  const PhiloxBlock words = philox_block(seed, offset + index / 4);
  const size_t lane = index % 4 & ~size_t{1};
  const float radius = std::sqrt(-2.0f * std::log(uniform_from_bits(words[lane])));
  const float angle = 2.0f * std::numbers::pi_v<float> * uniform_from_bits(words[lane + 1]);
  return index % 2 == 0 ? radius * std::cos(angle) : radius * std::sin(angle);
}

uint32_t HostRng::next_word() {
  if (used_ == 4) {
    words_ = philox_block(seed_, block_++);
    used_ = 0;
  }
  return words_[used_++];
}

uint32_t HostRng::below(uint32_t bound) {
  // Rejection sampling removes the modulo bias.
  const uint32_t limit = UINT32_MAX - UINT32_MAX % bound;
  uint32_t word;
  do word = next_word();
  while (word >= limit);
  return word % bound;
}

}  // namespace bioprop
