#include "bioprop/reward_task.hpp"
#include "bioprop/plotting.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "bioprop/config.hpp"
#include "bioprop/error.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rng.hpp"
#include "bioprop/rule.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

namespace {

struct Trial {
  std::vector<float> input;
  float amount;
};

// One animal's session: odour patterns drawn once, then phase 1 (first odours) and phase 2 (all odours).
std::vector<Trial> make_session(const RewardTaskSettings& s, uint64_t seed) {
  const size_t odours = s.amounts.size() + s.new_amounts.size();
  std::vector<std::vector<float>> patterns(odours, std::vector<float>(static_cast<size_t>(s.odour_channels), 0.0f));
  HostRng rng(seed, 7);
  const int active = std::max(1, static_cast<int>(std::lround(s.active_fraction * s.odour_channels)));
  for (auto& pattern : patterns)
    for (int placed = 0; placed < active;) {
      const uint32_t channel = rng.below(static_cast<uint32_t>(s.odour_channels));
      if (pattern[channel] == 0.0f) pattern[channel] = 1.0f, ++placed;
    }
  std::vector<double> amount_of(s.amounts);
  amount_of.insert(amount_of.end(), s.new_amounts.begin(), s.new_amounts.end());
  std::vector<Trial> trials;
  uint64_t noise_index = 0;
  for (int phase = 0; phase < 2; ++phase) {
    const uint32_t available = static_cast<uint32_t>(phase == 0 ? s.amounts.size() : odours);
    for (int t = 0; t < s.phase_trials; ++t) {
      const uint32_t odour = rng.below(available);
      Trial trial{patterns[odour], static_cast<float>(amount_of[odour])};
      for (float& v : trial.input)
        v += static_cast<float>(s.input_noise) * philox_normal(seed, 1u << 20, noise_index++);
      trials.push_back(std::move(trial));
    }
  }
  return trials;
}

// Squared prediction errors of one rule over one session, trial by trial (online learning, batch 1).
std::vector<double> run_session(const std::string& rule_name, const std::vector<Trial>& trials,
                                const RewardTaskSettings& s, uint64_t seed, Backend& backend) {
  const std::string net =
      fmt::format("[[layer]]\ntype = \"dense\"\nunits = {}\nactivation = \"relu\"\n", s.hidden_units);
  auto network = build_network({"reward-task", "reward task net", net}, {s.odour_channels}, 1, seed, backend);
  Options rule_options("reward task rule " + rule_name);
  rule_options.set("loss", std::string("regression"));
  auto rule = make_rule(rule_name, rule_options);
  Options optimizer_options("reward task optimizer");
  optimizer_options.set("learning_rate", rule_name == "wp" ? s.wp_learning_rate : s.learning_rate);
  optimizer_options.set("momentum", 0.0);
  auto sgd = make_optimizer("sgd", optimizer_options);
  rule->attach(*network, backend, seed);
  TrainingNoise noise = s.noise;
  noise.seed = seed;
  network->set_training_noise(noise);
  network->set_training(true);
  const auto parameters = rule->trainable(*network);
  Batch batch{Tensor({1, s.odour_channels}), Tensor({1})};
  std::vector<double> errors;
  uint64_t step = 0;
  for (const Trial& trial : trials) {
    std::copy(trial.input.begin(), trial.input.end(), batch.inputs.data());
    batch.labels.at(0) = trial.amount;
    const Batch on_device{backend.to_device(batch.inputs), backend.to_device(batch.labels)};
    const StepResult result = rule->step(*network, on_device, backend);
    if (!std::isfinite(result.loss)) {  // a diverged learner predicts nothing from here on
      spdlog::warn("reward task: rule '{}' diverged at trial {} (seed {})", rule_name, errors.size() + 1, seed);
      errors.resize(trials.size(), std::numeric_limits<double>::quiet_NaN());
      return errors;
    }
    errors.push_back(2.0 * result.loss);  // the loss is e^2 / 2
    if (s.update_noise > 0) perturb_updates(backend, parameters, s.update_noise, seed, step);
    ++step;
    sgd->step(backend, parameters);
    rule->after_update(*network, backend);
  }
  return errors;
}

}  // namespace

std::vector<LearningCurve> run_reward_task(const RewardTaskSettings& s, Backend& backend) {
  if (s.phase_trials < s.block || s.block < 1 || s.seeds < 1 || s.amounts.empty())
    fail("reward task: need phase_trials >= block >= 1, seeds >= 1 and at least one odour");
  std::vector<LearningCurve> curves;
  for (const std::string& rule : s.rules) {
    LearningCurve curve{rule, {}};
    std::vector<double> sums;
    for (int animal = 0; animal < s.seeds; ++animal) {
      const uint64_t seed = s.seed * 1000 + static_cast<uint64_t>(animal);
      const std::vector<double> errors = run_session(rule, make_session(s, seed), s, seed, backend);
      sums.resize(errors.size() / static_cast<size_t>(s.block), 0.0);
      for (size_t b = 0; b < sums.size(); ++b)
        for (int t = 0; t < s.block; ++t) sums[b] += errors[b * static_cast<size_t>(s.block) + static_cast<size_t>(t)];
    }
    for (double sum : sums) curve.block_error.push_back(sum / (s.block * s.seeds));
    curves.push_back(std::move(curve));
  }
  return curves;
}

std::string write_learning_curves(const std::vector<LearningCurve>& curves, const RewardTaskSettings& s,
                                  const std::string& folder) {
  std::filesystem::create_directories(folder);
  const std::filesystem::path dir(folder);
  std::string csv = "trial,phase";
  for (const auto& c : curves) csv += "," + c.rule;
  csv += "\n";
  const size_t blocks = curves.empty() ? 0 : curves.front().block_error.size();
  for (size_t b = 0; b < blocks; ++b) {
    const size_t last_trial = (b + 1) * static_cast<size_t>(s.block);
    csv += fmt::format("{},{}", last_trial, last_trial <= static_cast<size_t>(s.phase_trials) ? 1 : 2);
    for (const auto& c : curves) csv += fmt::format(",{:.6g}", c.block_error[b]);
    csv += "\n";
  }
  write_file_atomically((dir / "learning_curves.csv").string(), csv);

  std::string plot = fmt::format(
      "# gnuplot script drawn by `bioprop reward-task`; edit and re-run: gnuplot learning_curves.gp\n"
      "set terminal pngcairo size 900,560\nset output 'learning_curves.png'\nset datafile separator ','\n"
      "set key outside right noenhanced\nset logscale y\nset xlabel 'trial'\nset ylabel 'squared error of the "
      "predicted reward'\n"
      "set title 'Reward-amount prediction (after Konishi et al. 2023); new odours from trial {}'\n"
      "set arrow from {},graph 0 to {},graph 1 nohead dashtype 2\nplot ",
      s.phase_trials, s.phase_trials, s.phase_trials);
  for (size_t c = 0; c < curves.size(); ++c)
    plot += fmt::format("{}'learning_curves.csv' using 1:{} with linespoints title '{}'", c ? ", " : "", c + 3,
                        curves[c].rule);
  if (!draw_with_gnuplot(folder, "learning_curves.gp", plot + "\n")) return "";
  return (dir / "learning_curves.png").string();
}

}  // namespace bioprop
