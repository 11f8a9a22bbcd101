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
// global mean is the sum over ranks of grad * share / global. Every rank ends with the same grads. A layer's
// sum starts as soon as the rule announces its update (layer_ready, one bucket per layer: issue 17, item 2);
// finish() starts the sums of the updates never announced, in the order of `parameters`, and waits for all.
class UpdateSums {
 public:
  UpdateSums(Communicator& communicator, Backend& backend, std::vector<Parameter*> parameters, double share_fraction)
      : communicator_(communicator), backend_(backend), unsent_(std::move(parameters)), share_(share_fraction) {}
  void layer_ready(Layer& layer);
  void finish();
  // How many sums were started by layer_ready, for tests of the overlap.
  int buckets_sent_early() const { return early_; }

 private:
  Communicator& communicator_;
  Backend& backend_;
  std::vector<Parameter*> unsent_;
  double share_;
  int early_ = 0;
};

// While it lives, every layer update the rule announces starts its sum (Network::set_update_listener).
class SumsOnAnnouncement {
 public:
  SumsOnAnnouncement(Network& network, UpdateSums& sums) : network_(network) {
    network.set_update_listener([&network, &sums](int layer) { sums.layer_ready(network.layer(layer)); });
  }
  ~SumsOnAnnouncement() { network_.set_update_listener(nullptr); }
  SumsOnAnnouncement(const SumsOnAnnouncement&) = delete;
  SumsOnAnnouncement& operator=(const SumsOnAnnouncement&) = delete;

 private:
  Network& network_;
};

// The mean over ranks of parameters a rule changes inside its step, outside the optimiser (learned inverses,
// learned feedback of some rules): they started equal, so their mean is the start plus the mean update.
void average_values(Communicator& communicator, const std::vector<Parameter*>& parameters, Backend& backend);

}  // namespace bioprop
