#pragma once
// Experiment and net configuration from TOML files. Every key is checked: an unknown key, a value of
// the wrong type or out of range stops with an Error naming the file, the field and the value.
#include <memory>
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

// Parses the net and builds it for samples of shape `sample` with a dense readout of `classes` units
// appended. `init_override`, when not empty, replaces the net's "init" setting.
std::unique_ptr<Network> build_network(const NetSource& source, const Shape& sample, int classes, uint64_t seed,
                                       Backend& backend);

struct TrainConfig {
  std::string rule = "bp";
  Options rule_options{"[rule]"};
  std::string net = "conv";
  DataRequest data;
  int epochs = 3;
  int batch_size = 64;
  std::string optimizer = "sgd";
  Options optimizer_options{"[optimizer]"};
  double target_accuracy = 0.85;  // 0: none
  bool stop_at_target = false;
  std::string device = "auto";
  uint64_t seed = 1;
  std::string run_dir = "runs";  // a folder per run is made inside it
  std::string checkpoint;        // empty: <run folder>/checkpoint.bin
};

// Reads an experiment file (see configs/default.toml for every key) on top of the defaults.
TrainConfig load_train_config(const std::string& path);
// The same from TOML text; `where` names the source in messages.
TrainConfig parse_train_config(const std::string& text, const std::string& where);

}  // namespace bioprop
