#pragma once
// Everything the epoch loop carries from one step to the next besides the weights and the optimiser's
// state: saved in every checkpoint's record (field "run_state") so that a run resumed from it, even
// mid-epoch, continues bit for bit as if it had never stopped.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bioprop/stream_position.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

struct RunState {
  int epoch = 1;         // the epoch in progress, or the next one when batches_done is 0
  int batches_done = 0;  // batches of `epoch` already trained
  // The epoch's running sums, for its train loss and accuracy.
  double loss_sum = 0.0;
  long correct = 0, seen = 0;
  uint64_t steps = 0;  // optimiser steps in all (numbers the update-noise draws)
  // Early stopping (Keras's EarlyStopping in the reference code).
  double best_monitored = -1.0;
  int epochs_without_gain = 0;
  std::vector<EpochMetrics> epochs;  // the finished epochs' metrics (rewritten into metrics.csv)

  void start_epoch(int next) {
    epoch = next;
    batches_done = 0;
    loss_sum = 0.0;
    correct = seen = 0;
  }
};

nlohmann::json to_json(const EpochMetrics& m);
EpochMetrics epoch_metrics_from_json(const nlohmann::json& j, const std::string& where);

// The state and the counters of every random stream (by name) as a record field, and back. Reading
// checks every field and that the streams saved are the streams of this net and rule.
nlohmann::json to_json(const RunState& state, const StreamPositions& streams);
RunState run_state_from_json(const nlohmann::json& j, const StreamPositions& streams, const std::string& where);

}  // namespace bioprop
