// Alignment metrics (Lillicrap et al. 2016, Fig. 2): the angle between a rule's update and backprop's
// gradient, and between the feedback weights B and the forward weights W, per weighted layer.
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include "alignment_report.hpp"
#include "bioprop/plotting.hpp"
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

namespace {
std::vector<std::string> alignment_columns(const std::vector<LayerAlignment>& layers) {
  std::vector<std::string> columns;
  for (const LayerAlignment& a : layers) {
    columns.push_back(fmt::format("layer{}_update_vs_bp", a.layer));
    if (a.feedback_angle >= 0) columns.push_back(fmt::format("layer{}_B_vs_W", a.layer));
  }
  return columns;
}
}  // namespace

void write_alignment_metrics(const std::filesystem::path& folder, const std::vector<EpochMetrics>& epochs) {
  const auto first =
      std::find_if(epochs.begin(), epochs.end(), [](const EpochMetrics& m) { return !m.alignment.empty(); });
  if (first == epochs.end()) return;
  std::string csv = "epoch";
  for (const std::string& column : alignment_columns(first->alignment)) csv += "," + column;
  csv += "\n";
  for (const EpochMetrics& m : epochs) {
    if (m.alignment.empty()) continue;
    csv += std::to_string(m.epoch);
    for (const LayerAlignment& a : m.alignment) {
      csv += fmt::format(",{:.3f}", a.update_angle);
      if (a.feedback_angle >= 0) csv += fmt::format(",{:.3f}", a.feedback_angle);
    }
    csv += "\n";
  }
  write_file_atomically((folder / "alignment.csv").string(), csv);
}

void plot_alignment(const std::string& folder, const std::string& title) {
  std::ifstream csv(std::filesystem::path(folder) / "alignment.csv");
  std::string header;
  if (!std::getline(csv, header)) return;
  const long columns = std::count(header.begin(), header.end(), ',') + 1;
  draw_with_gnuplot(folder, "alignment.gp",
                    fmt::format("# gnuplot script drawn by `bioprop train --alignment`; edit and re-run: gnuplot "
                                "alignment.gp\nset terminal pngcairo size 900,560 noenhanced\nset output "
                                "'alignment.png'\nset datafile separator ','\nset key outside right\nset grid\n"
                                "set xlabel 'epoch'\nset ylabel 'angle (degrees)'\nset yrange [0:*]\n"
                                "set title 'alignment with bp: {}'\nplot for [i=2:{}] 'alignment.csv' using 1:i "
                                "with linespoints title columnhead(i)\n",
                                title, columns));
}

}  // namespace bioprop
