#pragma once
// The pieces of data-parallel training (issue 17) the training loop uses: this rank's share of a global
// batch, and the sums of the ranks' updates.
#include <vector>

#include "bioprop/distributed.hpp"
#include "bioprop/rule.hpp"

namespace bioprop {

// Rows share.first .. share.first + share.count of `global` into `out` (a copy, through the host on a GPU).
void take_share(const Batch& global, const Share& share, Backend& backend, Batch& out);

// The global batch's update from every rank's: each rank's gradient is the mean over its share, so the
// global mean is the sum over ranks of grad * share / global. Every rank ends with the same grads.
void sum_updates(Communicator& communicator, const std::vector<Parameter*>& parameters, double share_fraction,
                 Backend& backend);

// The mean over ranks of parameters a rule changes inside its step, outside the optimiser (learned inverses,
// learned feedback of some rules): they started equal, so their mean is the start plus the mean update.
void average_values(Communicator& communicator, const std::vector<Parameter*>& parameters, Backend& backend);

}  // namespace bioprop
