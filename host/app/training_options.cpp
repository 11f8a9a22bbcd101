// The flags of a training run, one table for `bioprop train`, `bioprop compare` and the Python module's
// keywords (which are these flags, dashes as underscores).
#include "app/training_options.hpp"

namespace bioprop {

void add_training_options(CLI::App& command, TrainFlags& t, const char* epochs_name, const char* epochs_help) {
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

}  // namespace bioprop
