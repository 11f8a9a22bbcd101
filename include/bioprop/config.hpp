#pragma once
// Experiment and net configuration from TOML files. Every key is checked: an unknown key, a value of
// the wrong type or out of range stops with an Error naming the file, the field and the value.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bioprop/data.hpp"
#include "bioprop/layers.hpp"
#include "bioprop/network.hpp"
#include "bioprop/options.hpp"

namespace bioprop {

// A net definition: the TOML text and where it came from ("built-in net 'conv'" or a file path).
struct NetSource {
  std::string name;
  std::string origin;
  std::string text;
};
// `name_or_path`: a built-in net name (see `bioprop list`) or a path to a .toml net file.
NetSource load_net_source(const std::string& name_or_path);
// A net's description line ("description" key), for listings.
std::string net_description(const NetSource& source);

// Settings of an experiment that replace a net file's own (e.g. BrainProp's reference init N(0, 0.005)
// without biases, on any net).
struct NetOverrides {
  std::string init;  // empty: the net's "init"
  // For init "normal": > 0 replaces the net's std; 0 takes the net's BrainProp reference std
  // ("reference_init_std", 0.005 unless the net says otherwise: the reference code's dense net uses 0.01).
  double init_std = 0.0;
  std::optional<bool> bias;  // replaces the net's "bias" default (layers that set "bias" keep theirs)
};

// Parses the net and builds it for samples of shape `sample` with a dense readout of `classes` units
// appended.
std::unique_ptr<Network> build_network(const NetSource& source, const Shape& sample, int classes, uint64_t seed,
                                       Backend& backend, const NetOverrides& overrides = {});

// A comparison's own settings: the [compare] table of an experiment file, read by `bioprop compare`
// (the rest of the file is every run's settings). Flags on the command line override them.
struct ComparisonConfig {
  std::vector<std::string> rules;  // RULE[+KEY=VALUE...][=LR], as --rules takes them
  int seeds = 0;                   // 0: unset
  int pack = 0;                    // 0: unset (as many as memory allows)
  std::string out;                 // empty: unset
};

// The defaults are the default run: BrainProp on the conv net with the reference code's settings
// (Pozzi et al. 2020, isapome/BrainProp): init N(0, 0.005) without biases, batch 128, plain SGD lr 0.1.
struct TrainConfig {
  std::string rule = "brainprop";
  Options rule_options{"[rule]"};
  std::string net = "conv";
  NetOverrides net_overrides{"normal", 0.0, false};  // N(0, the net's reference std), no biases
  DataRequest data;
  int epochs = 3;
  int batch_size = 128;
  int eval_batch_size = 0;  // 0: batch_size
  std::string optimizer = "sgd";
  Options optimizer_options{"[optimizer]"};
  double target_accuracy = 0.85;  // 0: none
  bool stop_at_target = false;
  std::string device = "auto";
  uint64_t seed = 1;
  std::string run_dir = "runs";  // a folder per run is made inside it
  std::string checkpoint;        // empty: <run folder>/checkpoint.bin
  std::string resume;            // a checkpoint to continue from
  int lr_step_epochs = 0;        // > 0: the learning rate is multiplied by lr_step_factor every this many epochs
  double lr_step_factor = 0.5;
  int patience = 0;  // > 0: early stop after this many epochs without a gain of min_delta
  double min_delta = 0.001;
  Augmentation augmentation;    // of the training images (off: the reference trains without)
  ComparisonConfig comparison;  // [compare]: ignored by `bioprop train`
};

// Reads an experiment file (see configs/default.toml for every key) on top of the defaults.
TrainConfig load_train_config(const std::string& path);
// The same from TOML text; `where` names the source in messages.
TrainConfig parse_train_config(const std::string& text, const std::string& where);

}  // namespace bioprop
