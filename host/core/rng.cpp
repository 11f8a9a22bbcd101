#include "bioprop/rng.hpp"

namespace bioprop {

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
