#pragma once
// The subcommands of the `bioprop` command. Each returns the process exit status.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bioprop/config.hpp"
#include "bioprop/distributed.hpp"
#include "bioprop/reward_task.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

struct TrainFlags {
  std::string config;  // experiment file; flags given on the command line override it
  TrainConfig overrides;
  // Which overrides the user actually gave (CLI11 fills `overrides` only for those).
  bool rule = false, net = false, dataset = false, data_dir = false, epochs = false, batch_size = false,
       eval_batch_size = false, lr = false, seed = false, device = false, optimizer = false, target = false,
       stop_at_target = false, validation = false, train_limit = false, test_limit = false, run_dir = false,
       init = false, init_std = false, checkpoint = false, momentum = false, weight_decay = false, resume = false,
       lr_step_epochs = false, lr_step_factor = false, patience = false, min_delta = false, augment_crop = false,
       augment_flip = false;
  double learning_rate = 0.0, momentum_value = 0.0, weight_decay_value = 0.0;
  bool no_bias = false, bias = false;
  std::vector<std::string> rule_options;  // KEY=VALUE
  bool no_progress = false;
  bool alignment = false;
  bool tf32 = false;
  float activity_noise = 0.0f, signal_noise = 0.0f, update_noise = 0.0f;
  double checkpoint_every_minutes = 0.0;
  double rank_timeout = default_rank_timeout_seconds;
  bool sync_batch_norm = false;  // data-parallel jobs: batch norm with the global batch's statistics  // data-parallel
                                 // jobs: the longest wait for the other ranks
  std::vector<std::string> command_line;  // argv, to print the command that resumes a stopped run
};

struct BenchFlags {
  std::vector<std::string> rules{"bp", "brainprop"};
  std::vector<std::string> nets{"conv", "loccon", "deep"};
  std::vector<int> shape{3, 32, 32};  // CIFAR-10's images
  int classes = 10;
  int batch_size = 0;  // 0: the reference's (32 for loccon, 128 otherwise)
  int steps = 20, warmup = 3;
  std::string device = "auto";
  bool tf32 = false;
  std::string csv;
};

// A comparison (`bioprop compare`): every rule of `rules` (RULE[+KEY=VALUE...][=LR]) with `seeds` seeds,
// on the settings of the train flags (--epochs: the most epochs of each run).
struct CompareFlags {
  TrainFlags train;
  std::vector<std::string> rules;
  int seeds = 0;       // 0: the preset's, else 3
  std::string out;     // the comparison's folder [comparisons/<net>-<dataset>]
  std::string preset;  // a built-in comparison (compare_presets.cpp)
  bool tiny = false;   // the preset at its CI size
  int pack = -1;       // runs trained at once on a GPU (0: as many as memory allows, at most 8; -1: unset)
};

// A new folder for a run: <run_dir>/<date>-<time>-<rule>-<net>-<dataset>, with a counter if two runs start in
// the same second. `claim`: created here, so that two runs never share one (else only named: the other ranks of
// a data-parallel job, which write nothing).
std::filesystem::path new_run_folder(const TrainConfig& c, bool claim = true);
// The train flags over the experiment file (or `base` without one), checked.
TrainConfig merge_train_flags(const TrainFlags& flags, const TrainConfig& base = {});
// What a run trains with, built from config `c` as `bioprop train` builds it (the device, the rule, the
// optimiser, the data, the net, the settings with the run record), logging as it goes.
struct TrainingSetup {
  std::unique_ptr<Backend> backend;
  int device_index = 0;  // of a GPU
  std::unique_ptr<Rule> rule;
  std::unique_ptr<Optimizer> optimizer;
  std::shared_ptr<const DataSplits> data;
  std::unique_ptr<Network> network;
  TrainSettings settings;
};
// On `loaded` when given (it must be what c.data asks for), else on the dataset it loads.
TrainingSetup prepare_training(TrainConfig c, const TrainFlags& flags, const std::filesystem::path& folder,
                               std::shared_ptr<const DataSplits> loaded = nullptr);
// Trains with config `c` into `folder` (metrics, plots, checkpoint), logging as `bioprop train` does.
TrainSummary train_with_config(TrainConfig c, const TrainFlags& flags, const std::filesystem::path& folder,
                               std::shared_ptr<const DataSplits> loaded = nullptr);
int run_train(const TrainFlags& flags);
int run_compare(CompareFlags flags);
int run_bench(const BenchFlags& flags);
// test_limit > 0: only the first this many test images.
int run_eval(const std::string& checkpoint, const std::string& data_dir, const std::string& device, int batch_size,
             int test_limit = 0);
int run_list();
int run_reward_task_command(const RewardTaskSettings& settings, const std::string& folder);

}  // namespace bioprop
