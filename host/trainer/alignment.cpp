// Alignment metrics (Lillicrap et al. 2016, Fig. 2): the angle between a rule's update and backprop's
// gradient, and between the feedback weights B and the forward weights W, per weighted layer.
#include <cmath>
#include <numbers>

#include "bioprop/trainer.hpp"

namespace bioprop {

namespace {
double angle_degrees(Backend& backend, const Tensor& a, const Tensor& b) {
  const double norms = std::sqrt(backend.sum_of_squares(a) * backend.sum_of_squares(b));
  if (norms == 0.0) return 90.0;  // a zero update carries no direction: orthogonal to everything
  const double cosine = std::clamp(backend.dot(a, b) / norms, -1.0, 1.0);
  return std::acos(cosine) * 180.0 / std::numbers::pi;
}
}  // namespace

std::vector<LayerAlignment> measure_alignment(Network& network, Rule& rule, const Batch& batch, Backend& backend) {
  // Without dropout and noise, so the rule's pass and bp's pass see the same net.
  network.set_training(false);
  const std::vector<int> weighted = network.weighted_layers();
  rule.step(network, batch, backend);
  std::vector<Tensor> updates;
  for (int i : weighted) updates.push_back(dynamic_cast<WeightedLayer&>(network.layer(i)).weights().grad.clone());
  network.forward(backend, batch.inputs);
  compute_loss(backend, Loss::cross_entropy, network, batch.labels);
  network.backward(backend, Pathway::forward_weights);
  std::vector<LayerAlignment> result;
  for (size_t j = 0; j < weighted.size(); ++j) {
    auto& layer = dynamic_cast<WeightedLayer&>(network.layer(weighted[j]));
    LayerAlignment a;
    a.layer = weighted[j];
    a.update_angle = angle_degrees(backend, updates[j], layer.weights().grad);
    if (layer.has_feedback())
      a.feedback_angle = angle_degrees(backend, layer.feedback_weights(), layer.weights().value);
    result.push_back(a);
  }
  return result;
}

}  // namespace bioprop
