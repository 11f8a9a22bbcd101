// The built-in comparisons. Learning rates are the ones our own runs used (README, bench/results).
#include "app/compare_presets.hpp"

#include <algorithm>

#include "bioprop/error.hpp"

namespace bioprop {

const std::vector<ComparePreset>& compare_presets() {
  static const std::vector<ComparePreset> presets = {
      {"brainprop",
       "BrainProp and Q-AGREL against bp on the conv net (Pozzi et al.: 1-3.5x bp's epochs)",
       {"bp=0.1", "brainprop=0.1", "qagrel=0.1"},
       "conv",
       "fashion-mnist",
       "",
       "",
       "sgd",
       false,
       0.85,
       10,
       3},
      {"feedback-alignment",
       "FA, DFA and sign-symmetry against bp on the conv net (biotorch's comparison)",
       {"bp=0.1", "fa=0.1", "dfa=0.1", "sign_symmetry=0.1"},
       "conv",
       "fashion-mnist",
       "",
       "",
       "sgd",
       false,
       0.85,
       10,
       3},
      {"learned-feedback",
       "learned feedback (per layer and direct) against FA, DFA and bp on the dense net (Lansdell et al.), SGD 0.05 "
       "for "
       "every rule (learned feedback diverges at 0.1)",
       {"bp=0.05", "fa=0.05", "dfa=0.05", "learned_feedback=0.05", "learned_feedback+direct=true=0.05"},
       "dense",
       "fashion-mnist",
       "",
       "",
       "sgd",
       false,
       0.85,
       10,
       3},
      {"target-propagation",
       "DTP, SDTP and AO-SDTP against bp on Bartunov et al.'s MNIST FC net (tanh, Glorot, Adam)",
       {"bp=0.001", "dtp=0.001", "sdtp=0.001", "ao_sdtp=0.001"},
       "tp_mnist_fc",
       "mnist",
       "data/mnist",
       "glorot",
       "adam",
       true,
       0.98,
       15,
       3},
      {"reward-task",
       "bp, FA, FA_Ex, ELM and WP on Konishi et al.'s reward-amount task (trial by trial; new odours midway)",
       {"bp", "fa", "fa_ex", "elm", "wp"},
       "",
       "",
       "",
       "",
       "sgd",
       false,
       0,
       0,
       5,
       true},
  };
  return presets;
}

const ComparePreset* apply_preset(CompareFlags& flags) {
  if (flags.preset.empty()) {
    if (flags.tiny) fail("--tiny needs --preset");
    return nullptr;
  }
  const auto& presets = compare_presets();
  const auto it =
      std::find_if(presets.begin(), presets.end(), [&](const ComparePreset& p) { return p.name == flags.preset; });
  if (it == presets.end()) {
    std::string known;
    for (const ComparePreset& p : presets) known += (known.empty() ? "" : ", ") + p.name;
    fail("unknown preset '{}' (known presets: {})", flags.preset, known);
  }
  const ComparePreset& p = *it;
  if (p.reward_task) return &p;  // its settings are the task's (run_reward_task_comparison)
  TrainFlags& t = flags.train;
  if (flags.rules.empty()) flags.rules = p.rules;
  if (!t.net) t.net = true, t.overrides.net = p.net;
  if (!t.dataset) t.dataset = true, t.overrides.data.name = p.dataset;
  if (!t.data_dir && !p.data_dir.empty()) t.data_dir = true, t.overrides.data.data_dir = p.data_dir;
  if (!t.init && !p.init.empty()) t.init = true, t.overrides.net_overrides.init = p.init;
  if (!t.optimizer) t.optimizer = true, t.overrides.optimizer = p.optimizer;
  if (!t.bias && !t.no_bias) (p.bias ? t.bias : t.no_bias) = true;
  if (!t.target) t.target = true, t.overrides.target_accuracy = p.target;
  if (!t.epochs) t.epochs = true, t.overrides.epochs = flags.tiny ? 2 : p.epochs;
  if (flags.seeds <= 0) flags.seeds = flags.tiny ? 2 : p.seeds;
  if (flags.tiny) {
    if (!t.train_limit) t.train_limit = true, t.overrides.data.train_limit = 512;
    if (!t.test_limit) t.test_limit = true, t.overrides.data.test_limit = 256;
  }
  return &p;
}

}  // namespace bioprop
