#include "rule_helpers.hpp"

#include <cmath>

#include "bioprop/error.hpp"

namespace bioprop {

StepResult forward_and_loss(Network& network, const Batch& batch, Backend& backend, Loss loss) {
  network.forward(backend, batch.inputs);
  const ScoredLoss scored = compute_scored_loss(backend, loss, network, batch.labels);
  return {scored.loss, scored.correct};
}

FeedbackInit read_feedback_init(Options& options) {
  FeedbackInit init;
  init.distribution = options.get_string("feedback_init", init.distribution);
  init.scale = options.get_number("feedback_scale", init.scale);
  if (init.distribution != "normal" && init.distribution != "uniform")
    fail("{}: 'feedback_init' must be \"normal\" or \"uniform\", got \"{}\"", options.where(), init.distribution);
  if (init.scale < 0) fail("{}: 'feedback_scale' must be >= 0, got {}", options.where(), init.scale);
  return init;
}

Tensor random_feedback_like(const Tensor& weights, const FeedbackInit& init, Backend& backend, uint64_t seed,
                            uint64_t stream) {
  const double rms =
      std::sqrt(backend.sum_of_squares(weights) / static_cast<double>(std::max<size_t>(1, weights.numel())));
  const float stddev = static_cast<float>(init.scale > 0 ? init.scale : rms);
  Tensor feedback(weights.shape(), backend.device());
  const uint64_t feedback_seed = seed ^ 0xFEEDBAC4ull;  // a stream apart from the forward weights'
  if (init.distribution == "normal") {
    backend.random_normal(feedback, 0.0f, stddev, feedback_seed, stream);
  } else {
    const float limit = stddev * std::sqrt(3.0f);  // uniform(-a, a) has standard deviation a / sqrt(3)
    backend.random_uniform(feedback, -limit, limit, feedback_seed, stream);
  }
  return feedback;
}

void backward_down_to_weights(Network& network, Backend& backend, int top, int layer) {
  for (int i = top; i > layer; --i)
    network.layer(i).backward(backend, network.activations(i), network.activations(i + 1), network.gradient(i + 1),
                              &network.gradient(i), 0.0f);
  network.layer(layer).weight_grad(backend, network.activations(layer), network.gradient(layer + 1), 0.0f);
}

}  // namespace bioprop
