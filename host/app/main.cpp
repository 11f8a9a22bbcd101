// `bioprop`: train, evaluate and list. User errors print one clear line and exit with status 1.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "app/commands.hpp"
#include "app/training_options.hpp"
#include "bioprop/data.hpp"
#include "bioprop/error.hpp"

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
