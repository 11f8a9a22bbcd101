// Keywords of bioprop.train and bioprop.Trainer: the flags of `bioprop train`, so Python and the command line
// name every setting alike.
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <string>
#include <vector>

#include "app/training_options.hpp"
#include "bioprop/error.hpp"
#include "python_module.hpp"

namespace bioprop::python {
namespace {

// A Python value as the command line would spell it (True / False as true / false, as rule options take them).
std::string flag_text(const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>() ? "true" : "false";
  return py::str(value).cast<std::string>();
}

}  // namespace

// The keywords become the command line they stand for and are parsed by `bioprop train`'s own flag table
// (add_training_options), so every flag is a keyword and both read it alike. Flags without a value take
// True / False (`bias=False` is --no-bias); `progress` is the opposite of --no-progress; `rule_options` a dict
// of --rule-option KEY=VALUE; `dataset` may also be a bioprop.Dataset.
TrainKeywords parse_train_keywords(const py::kwargs& keywords, const std::string& caller) {
  TrainKeywords out;
  TrainFlags& f = out.flags;
  CLI::App flags{caller};
  flags.set_help_flag();  // no --help keyword
  add_training_options(flags, f, "--epochs", "");
  std::vector<std::string> args;
  bool progress = false;
  for (const auto& [key_handle, value] : keywords) {
    const std::string key = key_handle.cast<std::string>();
    std::string name = "--" + key;
    std::replace(name.begin(), name.end(), '_', '-');
    if (key == "progress") {
      progress = value.cast<bool>();
    } else if (key == "rule_options") {
      for (const auto& [option, option_value] : value.cast<py::dict>())
        args.insert(args.end(), {"--rule-option", option.cast<std::string>() + "=" + flag_text(option_value)});
    } else if (key == "dataset" && py::isinstance<ArrayDataset>(value)) {
      out.arrays = value.cast<const ArrayDataset&>().splits;
      args.insert(args.end(), {"--dataset", out.arrays->train.name});
    } else if (key == "bias") {
      args.push_back(value.cast<bool>() ? "--bias" : "--no-bias");
    } else if (const CLI::Option* option = flags.get_option_no_throw(name);
               option == nullptr || key == "no_progress" || key == "no_bias" || key.find('-') != std::string::npos) {
      fail("{}: unknown keyword '{}' (the flags of `bioprop train`, dashes as underscores)", caller, key);
    } else if (option->get_expected_min() == 0) {  // a flag: present or not
      if (value.cast<bool>()) args.push_back(name);
    } else {
      args.insert(args.end(), {name, flag_text(value)});
    }
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  try {
    flags.parse(args);
  } catch (const CLI::ParseError& e) {
    fail("{}: {}", caller, e.what());
  }
  f.no_progress = !progress;
  return out;
}

std::shared_ptr<const DataSplits> TrainKeywords::data(const TrainConfig& c) const {
  if (!arrays) return nullptr;
  return std::make_shared<const DataSplits>(split_dataset(arrays->train, arrays->test, c.data));
}

py::dict epoch_dict(const EpochMetrics& m) {
  py::dict e;
  e["epoch"] = m.epoch;
  e["train_loss"] = m.train_loss;
  e["train_accuracy"] = m.train_accuracy;
  e["validation_accuracy"] = m.validation_accuracy >= 0 ? py::cast(m.validation_accuracy) : py::none();
  e["test_loss"] = m.test_loss;
  e["test_accuracy"] = m.test_accuracy;
  e["seconds"] = m.seconds;
  e["images_per_second"] = m.images_per_second;
  return e;
}

py::dict summary_dict(const TrainSummary& summary, const std::filesystem::path& folder) {
  py::list epochs;
  for (const EpochMetrics& m : summary.epochs) epochs.append(epoch_dict(m));
  py::dict result;
  result["run_folder"] = folder;
  result["epochs"] = epochs;
  result["final_test_accuracy"] = summary.final_test_accuracy;
  result["best_test_accuracy"] = summary.best_test_accuracy;
  result["epochs_to_target"] = summary.epochs_to_target > 0 ? py::cast(summary.epochs_to_target) : py::none();
  return result;
}

}  // namespace bioprop::python
