#pragma once
// The position of one of the random streams that advance while training (a dropout layer's mask
// count, the activity-noise pass count, a rule's exploration or perturbation draws). Every random
// draw in bioprop is a pure function of (seed, position), so a checkpoint that saves these counters
// lets a resumed run draw exactly what a run that was never stopped would have drawn.
#include <cstdint>
#include <string>
#include <vector>

namespace bioprop {

struct StreamPosition {
  std::string name;  // unique within its owner, e.g. "draws"; owners add their own prefix
  uint64_t* draws;   // the counter itself, read when saving and written when resuming
};
using StreamPositions = std::vector<StreamPosition>;

}  // namespace bioprop
