// `bioprop`: train, evaluate and list. User errors print one clear line and exit with status 1.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "app/commands.hpp"
#include "bioprop/data.hpp"
#include "bioprop/error.hpp"

namespace {

// The options of a training run, shared by `train` and `compare` (whose --epochs is each run's most).
void add_training_options(CLI::App& command, bioprop::TrainFlags& t, const char* epochs_name, const char* epochs_help) {
  using namespace bioprop;
  command.add_option("--config", t.config, "Experiment file (TOML; see configs/default.toml); flags override it")
      ->check(CLI::ExistingFile);
  auto flag = [&](const char* name, auto& value, bool& given, const char* help) {
    command.add_option(name, value, help)->each([&given](const std::string&) { given = true; });
  };
  flag("--rule", t.overrides.rule, t.rule, "Learning rule (see `bioprop list`) [brainprop]");
  flag("--net", t.overrides.net, t.net, "Built-in net name or a .toml net file [conv]");
  flag("--dataset", t.overrides.data.name, t.dataset, "Dataset name [fashion-mnist]");
  flag("--data-dir", t.overrides.data.data_dir, t.data_dir, "Folder with the dataset's idx files [its Debian folder]");
  flag(epochs_name, t.overrides.epochs, t.epochs, epochs_help);
  flag("--batch-size", t.overrides.batch_size, t.batch_size, "Trials per batch [128]");
  flag("--eval-batch-size", t.overrides.eval_batch_size, t.eval_batch_size,
       "Images per batch in evaluation [0: the training batch] (online learning at batch 1 evaluates faster in bulk)");
  flag("--lr", t.learning_rate, t.lr, "Learning rate of the optimizer [sgd 0.1, adam 0.001]");
  command.add_option("--rule-option", t.rule_options,
                     "A rule setting KEY=VALUE, repeatable (e.g. --rule-option epsilon=0.05; see `bioprop list`)");
  flag("--momentum", t.momentum_value, t.momentum, "SGD momentum [0]");
  flag("--weight-decay", t.weight_decay_value, t.weight_decay, "L2 weight decay [0]");
  flag("--init", t.overrides.net_overrides.init, t.init,
       "Initialiser: he, glorot, normal, or net (the net file's own) [normal, as BrainProp's reference]");
  flag("--init-std", t.overrides.net_overrides.init_std, t.init_std,
       "Standard deviation for --init normal [the net's reference: 0.005, dense 0.01]");
  command.add_flag("--no-bias", t.no_bias, "Build the net without biases [the default, as BrainProp's reference]");
  command.add_flag("--bias", t.bias, "Build the net with biases (or as the net file says with --init net)");
  flag("--seed", t.overrides.seed, t.seed, "Seed for initial weights, shuffling and the split [1]");
  flag("--device", t.overrides.device, t.device, "auto, cpu, cuda or cuda:N [auto]");
  flag("--optimizer", t.overrides.optimizer, t.optimizer, "sgd or adam [sgd]");
  flag("--resume", t.overrides.resume, t.resume,
       "Continue from a checkpoint of the same rule and net, after its epoch (--epochs counts from 1)");
  flag("--lr-step-epochs", t.overrides.lr_step_epochs, t.lr_step_epochs,
       "Multiply the learning rate by --lr-step-factor every N epochs [0: never; reference 100]");
  flag("--lr-step-factor", t.overrides.lr_step_factor, t.lr_step_factor, "Learning-rate step factor [0.5]");
  flag("--patience", t.overrides.patience, t.patience,
       "Stop after N epochs without a gain of --min-delta in validation (else test) accuracy [0: never; reference 45]");
  flag("--min-delta", t.overrides.min_delta, t.min_delta, "Smallest accuracy gain that counts for --patience [0.001]");
  flag("--augment-crop", t.overrides.augmentation.crop_padding, t.augment_crop,
       "Shift training images by up to N pixels (zero-padded random crop) [0: off, as the reference]");
  command
      .add_flag("--augment-flip", t.overrides.augmentation.horizontal_flip,
                "Mirror each training image left-right with probability 1/2 [off]")
      ->each([&t](const std::string&) { t.augment_flip = true; });
  flag("--target-accuracy", t.overrides.target_accuracy, t.target,
       "Test accuracy (fraction) whose first epoch is recorded as epochs-to-accuracy [0.85]");
  flag("--validation", t.overrides.data.validation, t.validation, "Training images held out for validation [0]");
  flag("--train-limit", t.overrides.data.train_limit, t.train_limit, "Use only this many training images [all]");
  flag("--test-limit", t.overrides.data.test_limit, t.test_limit,
       "Evaluate on only the first this many test images [all]");
  flag("--run-dir", t.overrides.run_dir, t.run_dir, "Folder that receives a folder per run [runs]");
  flag("--checkpoint", t.overrides.checkpoint, t.checkpoint, "Checkpoint path [<run folder>/checkpoint.bin]");
  command.add_flag("--stop-at-target", t.overrides.stop_at_target, "Stop as soon as the target accuracy is reached")
      ->each([&t](const std::string&) { t.stop_at_target = true; });
  command.add_flag("--no-progress", t.no_progress, "No progress bar or progress lines");
  command.add_option("--checkpoint-every-minutes", t.checkpoint_every_minutes,
                     "Also write the checkpoint mid-epoch every N minutes (fractions allowed) [0: after epochs only]");
  command.add_flag("--sync-batch-norm", t.sync_batch_norm,
                   "Data-parallel jobs: batch norm normalises with the statistics of the whole global batch, summed "
                   "over the ranks (PyTorch's SyncBatchNorm) [off: each rank's own, as DDP]");
  command.add_option("--rank-timeout", t.rank_timeout,
                     "Data-parallel jobs: end the job with a message when the other ranks do not answer within this "
                     "many seconds (a rank died or hangs) [600; 0: wait forever]");
  command.add_flag("--tf32", t.tf32,
                   "On a GPU, let cuBLAS use TF32 tensor cores for FP32 products (faster, ~1e-3 precision)");
  command.add_option("--activity-noise", t.activity_noise, "Noise (std) added to every activation while training [0]");
  command.add_option("--signal-noise", t.signal_noise, "Noise (std) added to each trial's output error [0]");
  command.add_option("--update-noise", t.update_noise, "Multiplicative noise (std) on every weight update [0]");
  command.add_flag(
      "--alignment", t.alignment,
      "Log per layer, each epoch, the angle between the rule's update and bp's gradient, and between B and W");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bioprop;
  CLI::App app{
      "bioprop: train convolutional and locally connected networks with biologically plausible learning rules.\n"
      "Start with `bioprop train` (BrainProp on Fashion-MNIST, conv net) and `bioprop list`."};
  app.require_subcommand(1);

  TrainFlags t;
  CLI::App* train = app.add_subcommand("train", "Train a net with a learning rule; with no options, the default run");
  add_training_options(*train, t, "--epochs", "Number of epochs [3]");

  CompareFlags cmp;
  CLI::App* compare = app.add_subcommand(
      "compare",
      "Train several rules with several seeds on the same settings; writes summary.md (mean and spread of "
      "epochs and seconds to the target accuracy), raw CSV / JSON lines and plots");
  add_training_options(*compare, cmp.train, "--epochs,--max-epochs", "The most epochs of each run [3]");
  compare->add_option("--rules", cmp.rules,
                      "Rules to compare: RULE[+KEY=VALUE...][=LR], e.g. bp fa=0.05 "
                      "learned_feedback+direct=true=0.1");
  compare->add_option("--seeds", cmp.seeds, "Seeds per rule, from --seed on [3]")->check(CLI::PositiveNumber);
  compare->add_option("--out", cmp.out, "The comparison's folder [comparisons/<net>-<dataset>]");
  compare->add_option("--preset", cmp.preset,
                      "A built-in comparison: brainprop, feedback-alignment, learned-feedback, target-propagation, "
                      "reward-task (bioprop list)");
  compare->add_flag("--tiny", cmp.tiny,
                    "The preset at its CI size (512 images, 2 epochs, 2 seeds; reward-task: 100 trials per phase)");
  compare
      ->add_option("--pack", cmp.pack,
                   "On a GPU, train up to N runs at once, one per CUDA stream [0: as many as memory allows, "
                   "at most 8; the CPU trains one at a time]")
      ->check(CLI::NonNegativeNumber);

  std::string checkpoint, data_dir, device = "auto";
  int batch_size = 256;
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a checkpoint on its dataset's test set");
  eval->add_option("--checkpoint", checkpoint, "A checkpoint.bin written by `bioprop train`")->required();
  eval->add_option("--data-dir", data_dir, "Folder with the dataset's idx files");
  eval->add_option("--device", device, "auto, cpu, cuda or cuda:N");
  eval->add_option("--batch-size", batch_size, "Images per forward pass")->check(CLI::PositiveNumber);
  int eval_test_limit = 0;
  eval->add_option("--test-limit", eval_test_limit, "Evaluate on only the first this many test images [all]")
      ->check(CLI::NonNegativeNumber);

  app.add_subcommand("list", "List the learning rules, built-in nets and datasets");

  BenchFlags b;
  CLI::App* bench = app.add_subcommand(
      "bench", "Time training steps of rules on nets (synthetic data, the default run's settings, training mode)");
  bench->add_option("--rules", b.rules, "Rules to time [bp brainprop]");
  bench->add_option("--nets", b.nets, "Built-in nets or .toml files [conv loccon deep]");
  bench->add_option("--shape", b.shape, "One input's shape [3 32 32: CIFAR-10]");
  bench->add_option("--classes", b.classes, "Output units [10]")->check(CLI::PositiveNumber);
  bench->add_option("--batch-size", b.batch_size, "Trials per step [the reference's: 32 for loccon, else 128]");
  bench->add_option("--steps", b.steps, "Timed steps per rule and net [20]");
  bench->add_option("--warmup", b.warmup, "Untimed steps first [3]")->check(CLI::NonNegativeNumber);
  bench->add_option("--device", b.device, "auto, cpu, cuda or cuda:N [auto]");
  bench->add_flag("--tf32", b.tf32, "On a GPU, TF32 tensor cores for FP32 products");
  bench->add_option("--csv", b.csv, "Also write the table as CSV to this file");

  RewardTaskSettings task;
  std::string task_folder = "runs/reward-task";
  CLI::App* reward =
      app.add_subcommand("reward-task",
                         "Konishi et al. (2023): learn odour -> reward amount trial by trial with several rules; "
                         "writes learning curves (CSV + PNG)");
  reward->add_option("--out", task_folder, "Folder for learning_curves.csv / .png [runs/reward-task]");
  reward->add_option("--rules", task.rules, "Rules to compare [bp fa fa_ex elm wp]");
  reward->add_option("--phase-trials", task.phase_trials, "Trials per phase [400]")->check(CLI::PositiveNumber);
  reward->add_option("--seeds", task.seeds, "Animals (seeds) averaged [5]")->check(CLI::PositiveNumber);
  reward->add_option("--hidden", task.hidden_units, "Middle-layer units [20]")->check(CLI::PositiveNumber);
  reward->add_option("--lr", task.learning_rate, "Learning rate [0.01]");
  reward->add_option("--wp-lr", task.wp_learning_rate, "Learning rate of wp [0.002]");
  reward->add_option("--input-noise", task.input_noise, "Trial-to-trial noise on the odour pattern [0.05]");
  reward->add_option("--activity-noise", task.noise.activity, "Noise (std) on middle-layer activities [0]");
  reward->add_option("--signal-noise", task.noise.signal, "Noise (std) on the learning signal e [0]");
  reward->add_option("--update-noise", task.update_noise, "Multiplicative noise (std) on every update [0]");
  reward->add_option("--seed", task.seed, "Seed [1]");

  // Where datasets are read: the largest JPEG image accepted (checked from its header, before decoding).
  size_t max_pixels = default_max_image_pixels;
  for (CLI::App* command : {train, compare, eval})
    command
        ->add_option("--max-image-pixels", max_pixels,
                     "Refuse JPEG images whose header claims more pixels than this [64 Mi]")
        ->check(CLI::PositiveNumber);
  t.command_line.assign(argv, argv + argc);
  cmp.train.command_line = t.command_line;
  CLI11_PARSE(app, argc, argv);
  try {
    set_max_image_pixels(max_pixels);
    if (train->parsed()) return run_train(t);
    if (compare->parsed()) return run_compare(cmp);
    if (eval->parsed()) return run_eval(checkpoint, data_dir, device, batch_size, eval_test_limit);
    if (bench->parsed()) return run_bench(b);
    if (reward->parsed()) return run_reward_task_command(task, task_folder);
    return run_list();
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return 2;
  }
}
