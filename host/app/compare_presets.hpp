#pragma once
// Built-in comparisons (`bioprop compare --preset NAME`): the seeds' comparisons at small scale, each at
// its full size and at a tiny size that runs in CI (`--tiny`).
#include <string>
#include <vector>

#include "app/commands.hpp"

namespace bioprop {

struct ComparePreset {
  std::string name, description;
  std::vector<std::string> rules;  // RULE[+KEY=VALUE...][=LR]
  std::string net, dataset, data_dir, init, optimizer;
  bool bias = false;
  double target = 0.85;
  int epochs = 10, seeds = 3;
  bool reward_task = false;  // Konishi et al.'s trial-by-trial task instead of image classification
};

const std::vector<ComparePreset>& compare_presets();
// Fills the comparison's settings from preset `flags.preset` where the command line left them unset;
// with `flags.tiny`, a few hundred images, two epochs and two seeds. Returns the preset (null: none).
const ComparePreset* apply_preset(CompareFlags& flags);
// The reward-task preset's comparison (reward_task_comparison.cpp).
int run_reward_task_comparison(const CompareFlags& flags, const ComparePreset& preset);

}  // namespace bioprop
