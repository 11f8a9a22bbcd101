#pragma once
// Action selection of one trial (Q-AGREL / BrainProp), shared by the CPU reference and the kernel so
// both choose the same action from the same Philox draws, bit for bit (plain float arithmetic in a
// fixed order; no transcendental differences: expf is applied to the same inputs).
#include <math.h>  // expf, logf, ... in the global namespace, as in device code

#include "bioprop/backend.hpp"
#include "bioprop/host_device.hpp"

namespace bioprop {

// The greedy action: the first maximum of values[0..count).
BIOPROP_HD inline int greedy_action(const float* values, int count) {
  int best = 0;
  for (int k = 1; k < count; ++k)
    if (values[k] > values[best]) best = k;
  return best;
}

// With probability 1 - epsilon (explore_draw >= epsilon) the greedy action; otherwise the
// inverse-CDF draw `sample_draw` from softmax(values / temperature).
BIOPROP_HD inline int choose_action(const float* values, int count, const ExplorationPolicy& policy, float explore_draw,
                                    float sample_draw) {
  const int best = greedy_action(values, count);
  if (explore_draw >= policy.epsilon) return best;
  const float top = values[best];  // subtracting the max keeps expf finite
  float total = 0.0f;
  for (int k = 0; k < count; ++k) total += expf((values[k] - top) / policy.temperature);
  const float target = sample_draw * total;
  float cumulative = 0.0f;
  for (int k = 0; k < count; ++k) {
    cumulative += expf((values[k] - top) / policy.temperature);
    if (target < cumulative) return k;
  }
  return count - 1;
}

}  // namespace bioprop
