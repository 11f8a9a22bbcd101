// Keywords of bioprop.train and bioprop.Trainer: the flags of `bioprop train`, so Python and the command line
// name every setting alike.
#include <pybind11/stl/filesystem.h>

#include "bioprop/error.hpp"
#include "python_module.hpp"

namespace bioprop::python {
namespace {

// A Python value of a rule option as the command line's KEY=VALUE would give it.
std::string option_text(const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>() ? "true" : "false";
  return py::str(value).cast<std::string>();
}

}  // namespace

TrainKeywords parse_train_keywords(const py::kwargs& keywords, const std::string& caller) {
  TrainKeywords out;
  TrainFlags& f = out.flags;
  TrainConfig& o = f.overrides;
  f.no_progress = true;
  // Each keyword is its flag (dashes as underscores); an unknown one is an error, as on the command line.
  for (const auto& [key_handle, value] : keywords) {
    const std::string key = key_handle.cast<std::string>();
    if (key == "config")
      f.config = value.cast<std::string>();
    else if (key == "rule")
      f.rule = true, o.rule = value.cast<std::string>();
    else if (key == "net")
      f.net = true, o.net = value.cast<std::string>();
    else if (key == "dataset" && py::isinstance<ArrayDataset>(value)) {
      out.arrays = value.cast<const ArrayDataset&>().splits;
      f.dataset = true, o.data.name = out.arrays->train.name;
    } else if (key == "dataset")
      f.dataset = true, o.data.name = value.cast<std::string>();
    else if (key == "data_dir")
      f.data_dir = true, o.data.data_dir = value.cast<std::string>();
    else if (key == "epochs")
      f.epochs = true, o.epochs = value.cast<int>();
    else if (key == "batch_size")
      f.batch_size = true, o.batch_size = value.cast<int>();
    else if (key == "eval_batch_size")
      f.eval_batch_size = true, o.eval_batch_size = value.cast<int>();
    else if (key == "lr")
      f.lr = true, f.learning_rate = value.cast<double>();
    else if (key == "momentum")
      f.momentum = true, f.momentum_value = value.cast<double>();
    else if (key == "weight_decay")
      f.weight_decay = true, f.weight_decay_value = value.cast<double>();
    else if (key == "seed")
      f.seed = true, o.seed = value.cast<uint64_t>();
    else if (key == "device")
      f.device = true, o.device = value.cast<std::string>();
    else if (key == "optimizer")
      f.optimizer = true, o.optimizer = value.cast<std::string>();
    else if (key == "init")
      f.init = true, o.net_overrides.init = value.cast<std::string>();
    else if (key == "init_std")
      f.init_std = true, o.net_overrides.init_std = value.cast<double>();
    else if (key == "bias")
      (value.cast<bool>() ? f.bias : f.no_bias) = true;
    else if (key == "target_accuracy")
      f.target = true, o.target_accuracy = value.cast<double>();
    else if (key == "stop_at_target")
      f.stop_at_target = value.cast<bool>(), o.stop_at_target = f.stop_at_target;
    else if (key == "validation")
      f.validation = true, o.data.validation = value.cast<int>();
    else if (key == "train_limit")
      f.train_limit = true, o.data.train_limit = value.cast<int>();
    else if (key == "test_limit")
      f.test_limit = true, o.data.test_limit = value.cast<int>();
    else if (key == "run_dir")
      f.run_dir = true, o.run_dir = value.cast<std::string>();
    else if (key == "progress")
      f.no_progress = !value.cast<bool>();
    else if (key == "alignment")
      f.alignment = value.cast<bool>();
    else if (key == "tf32")
      f.tf32 = value.cast<bool>();
    else if (key == "resume")
      f.resume = true, o.resume = value.cast<std::string>();
    else if (key == "checkpoint")
      f.checkpoint = true, o.checkpoint = value.cast<std::string>();
    else if (key == "sync_batch_norm")
      f.sync_batch_norm = value.cast<bool>();
    else if (key == "rank_timeout")
      f.rank_timeout = value.cast<double>();
    else if (key == "checkpoint_every_minutes")
      f.checkpoint_every_minutes = value.cast<double>();
    else if (key == "lr_step_epochs")
      f.lr_step_epochs = true, o.lr_step_epochs = value.cast<int>();
    else if (key == "lr_step_factor")
      f.lr_step_factor = true, o.lr_step_factor = value.cast<double>();
    else if (key == "patience")
      f.patience = true, o.patience = value.cast<int>();
    else if (key == "min_delta")
      f.min_delta = true, o.min_delta = value.cast<double>();
    else if (key == "augment_crop")
      f.augment_crop = true, o.augmentation.crop_padding = value.cast<int>();
    else if (key == "augment_flip")
      f.augment_flip = true, o.augmentation.horizontal_flip = value.cast<bool>();
    else if (key == "activity_noise")
      f.activity_noise = value.cast<float>();
    else if (key == "signal_noise")
      f.signal_noise = value.cast<float>();
    else if (key == "update_noise")
      f.update_noise = value.cast<float>();
    else if (key == "rule_options")
      for (const auto& [option, option_value] : value.cast<py::dict>())
        f.rule_options.push_back(option.cast<std::string>() + "=" + option_text(option_value));
    else
      fail("{}: unknown keyword '{}' (the flags of `bioprop train`, dashes as underscores)", caller, key);
  }
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
