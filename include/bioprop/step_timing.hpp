#pragma once
// Timing training steps: one rule on one net with synthetic data, with the default run's settings
// (init N(0, 0.005) without biases, plain SGD lr 0.1) in training mode (batch statistics, dropout).
// `bioprop bench` and bench/rule_step_bench time the same thing.
#include <memory>
#include <string>
#include <vector>

#include "bioprop/network.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rule.hpp"

namespace bioprop {

class TrainingStep {
 public:
  // `sample`: one input's shape (e.g. 3x32x32); the labels cycle through `classes`.
  TrainingStep(const std::string& rule, const std::string& net, const Shape& sample, int classes, int batch_size,
               Backend& backend);
  // Forward, credit assignment and the optimiser's update, then waits for the device.
  void run();
  // One forward pass alone (training mode), then waits for the device: what a rule's extra passes
  // (perturbed, noisy, corrupted) are measured against.
  void run_forward();
  int batch_size() const { return batch_.size(); }

 private:
  Backend& backend_;
  std::unique_ptr<Network> network_;
  std::unique_ptr<Rule> rule_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<Parameter*> parameters_;
  Batch batch_;
};

// The reference code's batch size for a net: 32 for loccon, 128 otherwise.
int reference_batch_size(const std::string& net);

struct StepTiming {
  std::string rule, net;
  int batch_size = 0;
  double seconds_per_step = 0.0;
  double seconds_per_forward = 0.0;  // one forward pass alone
  double images_per_second() const { return batch_size / seconds_per_step; }
};
// Runs `warmup` steps, then times `steps` more.
StepTiming time_training_steps(TrainingStep& step, int warmup, int steps);

}  // namespace bioprop
