#pragma once
// The reward-amount prediction task of Konishi, Igarashi & Miura (2023), after the mouse experiments of
// Lee et al. (2021, Nature): odour cues in, the predicted amount of reward out, learned trial by trial;
// midway, new odour-reward pairs are added. The article's methods were not available to us, so every
// value below is our choice (documented in docs/reward_task.md) and an option.
#include <string>
#include <vector>

#include "bioprop/backend.hpp"
#include "bioprop/network.hpp"

namespace bioprop {

struct RewardTaskSettings {
  int odour_channels = 50;                           // input units (olfactory channels)
  double active_fraction = 0.2;                      // fraction of the channels an odour drives (binary pattern)
  double input_noise = 0.05;                         // trial-to-trial Gaussian noise on the pattern
  std::vector<double> amounts{0.0, 0.25, 0.5, 1.0};  // reward amount of each first-phase odour (normalised)
  std::vector<double> new_amounts{0.75, 0.1};        // odours added in the second phase
  int phase_trials = 400;                            // trials per phase
  int hidden_units = 20;  // odours -> one ReLU middle layer -> reward amount (few units: see the doc)
  int block = 20;         // trials per point of the learning curve
  int seeds = 5;          // independent animals (seeds) averaged per curve
  std::vector<std::string> rules{"bp", "fa", "fa_ex", "elm", "wp"};
  double learning_rate = 0.01;      // Konishi et al.'s learning rate
  double wp_learning_rate = 0.002;  // WP's noisy estimate needs a smaller step to stay stable
  TrainingNoise noise;              // activity and learning-signal noise (robustness experiments)
  float update_noise = 0.0f;        // multiplicative noise on every update (rule perturbation)
  uint64_t seed = 1;
};

struct LearningCurve {
  std::string rule;
  std::vector<double> block_error;  // mean squared prediction error of each block, before learning it
};

// Runs every rule on the task (the same trials for every rule) and returns its learning curve.
std::vector<LearningCurve> run_reward_task(const RewardTaskSettings& settings, Backend& backend);

// Writes <folder>/learning_curves.csv, the gnuplot script and, when gnuplot is installed,
// learning_curves.png. Returns the PNG's path, or "" when it could not be drawn.
std::string write_learning_curves(const std::vector<LearningCurve>& curves, const RewardTaskSettings& settings,
                                  const std::string& folder);

}  // namespace bioprop
