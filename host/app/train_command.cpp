#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>

#include "app/commands.hpp"
#include "bioprop/device.hpp"
#include "bioprop/device_memory.hpp"
#include "bioprop/distributed.hpp"
#include "bioprop/error.hpp"
#include "bioprop/options_json.hpp"
#include "bioprop/stop_request.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

namespace {

// KEY=VALUE from the command line: true/false, an integer, a number, or else a string.
void set_option(Options& options, const std::string& assignment) {
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) fail("--rule-option '{}': expected KEY=VALUE", assignment);
  const std::string key = assignment.substr(0, equals), value = assignment.substr(equals + 1);
  if (value == "true" || value == "false") return options.set(key, value == "true");
  char* end = nullptr;
  const long long integer = std::strtoll(value.c_str(), &end, 10);
  if (!value.empty() && *end == '\0') return options.set(key, integer);
  const double number = std::strtod(value.c_str(), &end);
  if (!value.empty() && *end == '\0') return options.set(key, number);
  options.set(key, value);
}

}  // namespace

TrainConfig merge_train_flags(const TrainFlags& f, const TrainConfig& base) {
  TrainConfig c = f.config.empty() ? base : load_train_config(f.config);
  const TrainConfig& o = f.overrides;
  if (f.rule) c.rule = o.rule;
  if (f.net) c.net = o.net;
  if (f.dataset) c.data.name = o.data.name;
  if (f.data_dir) c.data.data_dir = o.data.data_dir;
  if (f.epochs) c.epochs = o.epochs;
  if (f.batch_size) c.batch_size = o.batch_size;
  if (f.eval_batch_size) c.eval_batch_size = o.eval_batch_size;
  if (f.seed) c.seed = o.seed;
  if (f.device) c.device = o.device;
  if (f.optimizer && o.optimizer != c.optimizer) {  // the file's settings were for another optimiser
    c.optimizer = o.optimizer;
    c.optimizer_options = Options("[optimizer] (--optimizer " + o.optimizer + ")");
  }
  if (f.target) c.target_accuracy = o.target_accuracy;
  if (f.stop_at_target) c.stop_at_target = true;
  if (f.validation) c.data.validation = o.data.validation;
  if (f.train_limit) c.data.train_limit = o.data.train_limit;
  if (f.test_limit) c.data.test_limit = o.data.test_limit;
  if (f.run_dir) c.run_dir = o.run_dir;
  if (f.checkpoint) c.checkpoint = o.checkpoint;
  if (f.resume) c.resume = o.resume;
  if (f.lr_step_epochs) c.lr_step_epochs = o.lr_step_epochs;
  if (f.lr_step_factor) c.lr_step_factor = o.lr_step_factor;
  if (f.patience) c.patience = o.patience;
  if (f.min_delta) c.min_delta = o.min_delta;
  if (f.augment_crop) c.augmentation.crop_padding = o.augmentation.crop_padding;
  if (f.augment_flip) c.augmentation.horizontal_flip = true;
  for (const std::string& assignment : f.rule_options) set_option(c.rule_options, assignment);
  if (f.lr) c.optimizer_options.set("learning_rate", f.learning_rate);
  if (f.momentum) c.optimizer_options.set("momentum", f.momentum_value);
  if (f.weight_decay) c.optimizer_options.set("weight_decay", f.weight_decay_value);
  if (f.init) c.net_overrides.init = o.net_overrides.init == "net" ? "" : o.net_overrides.init;
  if (f.init_std) c.net_overrides.init_std = o.net_overrides.init_std;
  if (f.no_bias && f.bias) fail("--bias and --no-bias contradict each other");
  if (f.no_bias) c.net_overrides.bias = false;
  if (f.bias) c.net_overrides.bias = true;
  if (f.init && c.net_overrides.init.empty() && !f.bias && !f.no_bias) c.net_overrides.bias.reset();
  if (c.epochs < 1) fail("--epochs must be at least 1, got {}", c.epochs);
  if (c.lr_step_epochs < 0) fail("--lr-step-epochs must be >= 0, got {}", c.lr_step_epochs);
  if (!(c.lr_step_factor > 0)) fail("--lr-step-factor must be > 0, got {}", c.lr_step_factor);
  if (c.patience < 0) fail("--patience must be >= 0, got {}", c.patience);
  if (c.augmentation.crop_padding < 0) fail("--augment-crop must be >= 0, got {}", c.augmentation.crop_padding);
  if (c.batch_size < 1) fail("--batch-size must be at least 1, got {}", c.batch_size);
  if (c.eval_batch_size < 0)
    fail("--eval-batch-size must be 0 (the training batch) or more, got {}", c.eval_batch_size);
  if (!(f.checkpoint_every_minutes >= 0))
    fail("--checkpoint-every-minutes must be >= 0, got {}", f.checkpoint_every_minutes);
  if (c.target_accuracy < 0 || c.target_accuracy > 1)
    fail("--target-accuracy must be a fraction in [0, 1], got {}", c.target_accuracy);
  c.data.seed = c.seed;
  return c;
}

std::filesystem::path new_run_folder(const TrainConfig& c, bool claim) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  const std::string net = std::filesystem::path(c.net).stem().string();
  const std::filesystem::path base =
      std::filesystem::path(c.run_dir) / fmt::format("{}-{}-{}-{}", stamp, c.rule, net, c.data.name);
  std::filesystem::path folder = base;
  if (!claim) {
    for (int i = 2; std::filesystem::exists(folder); ++i) folder = base.string() + "-" + std::to_string(i);
    return folder;
  }
  // Claimed by creating it: two runs started in the same second (tests, packed comparisons) never share one.
  std::filesystem::create_directories(base.parent_path().empty() ? "." : base.parent_path());
  for (int i = 2; !std::filesystem::create_directory(folder); ++i) folder = base.string() + "-" + std::to_string(i);
  return folder;
}

namespace {

// The command line that continues a stopped run: this one with --resume <checkpoint> (in place of any
// --resume it had), quoted for a POSIX shell where needed.
std::string resume_command(const std::vector<std::string>& command_line, const std::string& checkpoint) {
  const auto quoted = [](const std::string& word) {
    if (!word.empty() &&
        word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") ==
            std::string::npos)
      return word;
    std::string out = "'";
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::string command;
  for (size_t i = 0; i < command_line.size(); ++i) {
    if (command_line[i] == "--resume") {
      ++i;  // and its value
      continue;
    }
    if (command_line[i].rfind("--resume=", 0) == 0) continue;
    if (!command.empty()) command += ' ';
    command += quoted(command_line[i]);
  }
  return fmt::format("{} --resume {}", command, quoted(checkpoint));
}

}  // namespace

TrainingSetup prepare_training(TrainConfig c, const TrainFlags& flags, const std::filesystem::path& folder,
                               std::shared_ptr<const DataSplits> loaded) {
  TrainingSetup setup;
  if (job().size() > 1 && (c.device == "auto" || c.device == "cuda")) {
    // One GPU per rank: local rank i on device i; more ranks than GPUs on a node is refused.
    const CudaDevices gpus = cuda_devices();
    const NodePlace place = node_place();
    if (gpus.count > 0 && place.local_size > gpus.count)
      fail("{} ranks on this node but only {} GPU(s): start at most one rank per GPU", place.local_size, gpus.count);
    if (gpus.count > 0) c.device = fmt::format("cuda:{}", place.local_rank);
  }
  const DeviceChoice device = choose_device(c.device);
  setup.backend = make_backend(device, flags.tf32);
  setup.device_index = device.index;
  Backend& backend = *setup.backend;
  spdlog::info("device: {}", device.description);

  // Everything that can be checked is checked before the (slow) data load.
  const NetSource net_source = load_net_source(c.net);
  setup.rule = make_rule(c.rule, c.rule_options);
  Rule& rule = *setup.rule;
  if (job().size() > 1)
    spdlog::info("sums over the ranks: {}, {}", backend.all_reduce_path(),
                 rule.announces_updates() ? "each layer's started as soon as its update is ready"
                                          : "started after the rule's step");
  if (c.optimizer == "sgd") {  // BrainProp's reference optimiser: plain SGD, lr 0.1 (Pozzi et al. 2020 code)
    if (!c.optimizer_options.has("learning_rate")) c.optimizer_options.set("learning_rate", 0.1);
    if (!c.optimizer_options.has("momentum")) c.optimizer_options.set("momentum", 0.0);
  }
  setup.optimizer = make_optimizer(c.optimizer, c.optimizer_options);
  Optimizer& optimizer = *setup.optimizer;

  const auto load_start = std::chrono::steady_clock::now();
  const bool own = loaded == nullptr;
  setup.data = own ? std::make_shared<const DataSplits>(load_dataset(c.data)) : std::move(loaded);
  const DataSplits& data = *setup.data;
  spdlog::info("data: {} — {} train, {} validation, {} test images of shape {} ({})", c.data.name, data.train.size(),
               data.validation.size(), data.test.size(), data.train.sample_shape().str(),
               own ? fmt::format("{:.1f} s",
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count())
                   : std::string("loaded before"));
  setup.network =
      build_network(net_source, data.train.sample_shape(), data.train.classes, c.seed, backend, c.net_overrides);
  spdlog::info("{}", setup.network->summary());
  setup.network->check_fits_in_memory(c.batch_size, backend);
  spdlog::info(
      "rule: {}, optimizer: {}, {} epochs of batch {}{}", rule.name(), optimizer.describe(), c.epochs, c.batch_size,
      c.augmentation.enabled() ? fmt::format(", augmentation: shifts up to {} px{}", c.augmentation.crop_padding,
                                             c.augmentation.horizontal_flip ? ", horizontal flips" : "")
                               : "");

  TrainSettings& settings = setup.settings;
  settings.epochs = c.epochs;
  settings.batch_size = c.batch_size;
  settings.eval_batch_size = c.eval_batch_size;
  settings.target_accuracy = c.target_accuracy;
  settings.stop_at_target = c.stop_at_target;
  settings.seed = c.seed;
  settings.run_folder = folder.string();
  settings.checkpoint = c.checkpoint;
  settings.show_progress = !flags.no_progress;
  settings.alignment = flags.alignment;
  settings.noise = {flags.activity_noise, flags.signal_noise, 0};
  settings.update_noise = flags.update_noise;
  settings.resume = c.resume;
  settings.lr_step_epochs = c.lr_step_epochs;
  settings.lr_step_factor = c.lr_step_factor;
  settings.patience = c.patience;
  settings.min_delta = c.min_delta;
  settings.augmentation = c.augmentation;
  settings.checkpoint_every_minutes = flags.checkpoint_every_minutes;
  settings.communicator = &job();
  settings.sync_batch_norm = flags.sync_batch_norm;
  settings.record = {{"rule", c.rule},
                     {"rule_options", options_json(c.rule_options)},
                     {"net", net_source.name},
                     {"net_toml", net_source.text},
                     {"bias", c.net_overrides.bias ? nlohmann::json(*c.net_overrides.bias) : nlohmann::json(nullptr)},
                     {"dataset", c.data.name},
                     {"sample_shape", data.train.sample_shape().dims()},
                     {"classes", data.train.classes},
                     {"epochs", c.epochs},
                     {"batch_size", c.batch_size},
                     {"optimizer", optimizer.describe()},
                     {"optimizer_name", c.optimizer},
                     {"optimizer_options", options_json(c.optimizer_options)},
                     {"augment_crop", c.augmentation.crop_padding},
                     {"augment_flip", c.augmentation.horizontal_flip},
                     {"seed", c.seed},
                     {"sync_batch_norm", flags.sync_batch_norm},
                     {"device", device.description},
                     {"backend", backend.name()}};
  spdlog::info("run folder: {}", folder.string());
  return setup;
}

TrainSummary train_with_config(TrainConfig c, const TrainFlags& flags, const std::filesystem::path& folder,
                               std::shared_ptr<const DataSplits> loaded) {
  TrainingSetup setup = prepare_training(std::move(c), flags, folder, std::move(loaded));
  reset_device_memory_peak();
  TrainSummary summary =
      train(*setup.network, *setup.rule, *setup.optimizer, *setup.data, *setup.backend, setup.settings);
  if (setup.backend->device() == Device::cuda) {
    const DeviceMemoryStats memory = device_memory_stats();
    summary.peak_device_bytes = memory.peak_bytes;
    spdlog::info("peak GPU memory held by bioprop: {:.1f} MiB ({} device allocations)",
                 static_cast<double>(memory.peak_bytes) / (1 << 20), memory.device_allocations);
  }
  return summary;
}

int run_train(const TrainFlags& flags) {
  Communicator& communicator = job();
  if (communicator.rank() != 0) spdlog::set_level(spdlog::level::warn);  // rank 0 speaks for the job
  if (communicator.size() > 1) spdlog::info("data-parallel training: {} ranks (MPI)", communicator.size());
  communicator.set_timeout(flags.rank_timeout);
  const TrainConfig c = merge_train_flags(flags);
  const std::filesystem::path folder = new_run_folder(c, /*claim=*/communicator.rank() == 0);  // rank 0 writes
  const StopOnSignals stop_on_signals;  // Ctrl-C or SIGTERM: finish the step, checkpoint, stop
  const TrainSummary summary = train_with_config(c, flags, folder);
  if (summary.interrupted) {
    spdlog::warn("stopped by {} in epoch {} after batch {}; to continue where it stopped:\n  {}",
                 summary.stop_signal == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM", summary.stopped_at_epoch,
                 summary.batches_done, resume_command(flags.command_line, summary.checkpoint));
    return summary.stop_signal > 0 ? 128 + summary.stop_signal : 1;
  }
  spdlog::info("final test accuracy {:.2f}% (best {:.2f}%) after {} epoch(s)", 100 * summary.final_test_accuracy,
               100 * summary.best_test_accuracy, summary.epochs.size());
  if (c.target_accuracy > 0) {
    if (summary.epochs_to_target > 0)
      spdlog::info("epochs to {:.2f}% test accuracy: {}", 100 * c.target_accuracy, summary.epochs_to_target);
    else
      spdlog::info("target {:.2f}% test accuracy not reached in {} epoch(s)", 100 * c.target_accuracy,
                   summary.epochs.size());
  }
  spdlog::info("metrics: {}/metrics.csv, checkpoint: {}", folder.string(),
               c.checkpoint.empty() ? (folder / "checkpoint.bin").string() : c.checkpoint);
  return 0;
}

}  // namespace bioprop
