#pragma once
// Pieces shared by the rule files.
#include "bioprop/rule.hpp"

namespace bioprop {

// Forward pass, loss and correct count; leaves dL/d(output) in network.gradient(network.size()).
StepResult forward_and_loss(Network& network, const Batch& batch, Backend& backend, Loss loss);

// How a rule draws fixed random feedback weights B: "normal" or "uniform", with the given standard
// deviation, or (scale 0) with the root-mean-square of the forward weights W it stands in for.
struct FeedbackInit {
  std::string distribution = "normal";
  double scale = 0.0;
};
FeedbackInit read_feedback_init(Options& options);
Tensor random_feedback_like(const Tensor& weights, const FeedbackInit& init, Backend& backend, uint64_t seed,
                            uint64_t stream);

}  // namespace bioprop
