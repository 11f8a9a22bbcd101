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

// Direct feedback (DFA, direct learned feedback): with dL/dh in network.gradient(top + 1), the output
// gradient of layer `top`, carries it down through layers top..layer+1 (activations, batch norm, pooling,
// dropout; their own parameters learn from the same signal) and computes weighted layer `layer`'s
// weight gradient.
void backward_down_to_weights(Network& network, Backend& backend, int top, int layer);

}  // namespace bioprop
