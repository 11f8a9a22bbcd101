#include <gtest/gtest.h>

#include <set>

#include "bioprop/data.hpp"
#include "bioprop/rng.hpp"

namespace bioprop {
namespace {

// Known-answer vectors of Random123's kat_vectors for philox4x32 with 10 rounds.
TEST(Philox, MatchesRandom123KnownAnswers) {
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}), (PhiloxBlock{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (PhiloxBlock{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (PhiloxBlock{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, StreamsAreAPureFunctionOfSeedOffsetIndex) {
  EXPECT_EQ(philox_uniform(3, 10, 7), philox_uniform(3, 10, 7));
  EXPECT_NE(philox_uniform(3, 10, 7), philox_uniform(4, 10, 7));
  // Offset counts blocks of four values: (offset 1, index 0) is (offset 0, index 4).
  EXPECT_EQ(philox_uniform(3, 1, 0), philox_uniform(3, 0, 4));
  for (uint64_t i = 0; i < 1000; ++i) {
    const float u = philox_uniform(9, 0, i);
    ASSERT_GT(u, 0.0f);
    ASSERT_LT(u, 1.0f);
  }
}

TEST(Shuffle, IsAPermutationAndDependsOnlyOnTheSeed) {
  const auto a = shuffled_indexes(1000, 5, 1), b = shuffled_indexes(1000, 5, 1), c = shuffled_indexes(1000, 6, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<int>(a.begin(), a.end()).size(), 1000u);
}

}  // namespace
}  // namespace bioprop
