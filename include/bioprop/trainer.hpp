#pragma once
// The epoch loop: train with a rule and an optimiser, evaluate on the test (and validation) set each
// epoch, record metrics (JSON lines + CSV) and a checkpoint in a run folder, and stop at a target
// accuracy, early, or when asked (stop_request.hpp); a run resumes from any checkpoint bit for bit. Every file is
// written to a temporary name and renamed, so a killed run leaves either the previous version or the new one, never
// half a file.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bioprop/config.hpp"
#include "bioprop/data.hpp"
#include "bioprop/error.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rule.hpp"

namespace bioprop {

struct Evaluation {
  double loss = 0.0;  // mean softmax cross-entropy of the outputs
  double accuracy = 0.0;
};
class Communicator;
// With a rule, its infer() makes the outputs (else the net's forward pass). With a communicator of several
// ranks, each evaluates its share of the images and every rank gets the sums.
Evaluation evaluate(Network& network, const Dataset& data, Backend& backend, int batch_size, Rule* rule = nullptr,
                    Communicator* communicator = nullptr);

// How far a rule's updates and feedback are from backprop's, for one weighted layer (degrees).
struct LayerAlignment {
  int layer = 0;
  double update_angle = 0.0;     // between the rule's weight update and bp's cross-entropy gradient
  double feedback_angle = -1.0;  // between B and W (B is stored in W's shape); -1: the layer has no B
};
// Runs one rule step and one bp step on `batch` (no optimiser step) and compares them per layer.
std::vector<LayerAlignment> measure_alignment(Network& network, Rule& rule, const Batch& batch, Backend& backend);

struct EpochMetrics {
  int epoch = 0;
  double train_loss = 0.0, train_accuracy = 0.0;
  double validation_accuracy = -1.0;  // -1: no validation set
  double test_loss = 0.0, test_accuracy = 0.0;
  double seconds = 0.0, images_per_second = 0.0;
  double data_wait_fraction = 0.0;        // share of the epoch's training time spent waiting for batches
  std::vector<LayerAlignment> alignment;  // empty unless TrainSettings::alignment
};

// The loss became NaN or infinite: the message names the epoch and batch; `completed` holds the epochs the
// run finished before (a comparison reports the run as diverged, with them, and goes on with the others).
class DivergedError : public Error {
 public:
  DivergedError(const std::string& message, int diverged_epoch, std::vector<EpochMetrics> completed_epochs)
      : Error(message), epoch(diverged_epoch), completed(std::move(completed_epochs)) {}
  int epoch;
  std::vector<EpochMetrics> completed;
};

struct TrainSettings {
  int epochs = 1;
  int batch_size = 64;
  int eval_batch_size = 0;       // 0: batch_size
  double target_accuracy = 0.0;  // 0: none
  bool stop_at_target = false;
  uint64_t seed = 1;
  std::string run_folder;  // empty: write nothing
  std::string checkpoint;  // empty: <run_folder>/checkpoint.bin
  bool show_progress = true;
  bool alignment = false;     // measure LayerAlignment after every epoch (costs one extra rule and bp step)
  TrainingNoise noise;        // activity and learning-signal noise while training (robustness experiments)
  float update_noise = 0.0f;  // every update is multiplied by (1 + update_noise * xi): imprecise plasticity
  // The BrainProp reference protocol (isapome/BrainProp main.py): the learning rate halves every 100
  // epochs, and training stops after 45 epochs without a gain of 0.001 in validation accuracy.
  int lr_step_epochs = 0;  // > 0: multiply the learning rate by lr_step_factor every this many epochs
  double lr_step_factor = 0.5;
  int patience = 0;  // > 0: early stop; monitors validation accuracy, or test accuracy without a validation set
  double min_delta = 0.001;
  Augmentation augmentation;  // of the training batches only
  std::string resume;         // a checkpoint of this rule and net to continue from, where it stopped
  // Checkpoints are written after every epoch and, when > 0, also mid-epoch every this many minutes.
  double checkpoint_every_minutes = 0.0;
  // > 0: stop (as after Ctrl-C: a checkpoint, then return interrupted) once this many optimiser steps
  // have been taken in all, counting those before a resume. For time-sliced jobs and tests.
  uint64_t stop_after_steps = 0;
  nlohmann::json record;  // the run's configuration, saved with the metrics and the checkpoint
  // Data-parallel training (distributed.hpp): this rank takes its share of every global batch of batch_size,
  // the ranks sum their updates, and only rank 0 writes files. Null: one process.
  Communicator* communicator = nullptr;
  // With several ranks: batch norm normalises with the global batch's statistics (else each rank's own).
  bool sync_batch_norm = false;
};

struct TrainSummary {
  std::vector<EpochMetrics> epochs;
  int epochs_to_target = -1;  // first epoch whose test accuracy reached the target; -1: never
  double final_test_accuracy = 0.0;
  double best_test_accuracy = 0.0;
  bool stopped_early = false;
  // Stopped by a signal (StopOnSignals) or by stop_after_steps, with a checkpoint to resume from.
  bool interrupted = false;
  int stop_signal = 0;  // the signal, or 0 for the step limit
  std::string checkpoint;
  int stopped_at_epoch = 0, batches_done = 0;  // batches of that epoch trained before the stop
  size_t peak_device_bytes = 0;                // on a GPU: the most device memory the run held (else 0)
};

// The summary's accuracies and epochs-to-target from the metrics of the epochs run so far.
void summarise_epochs(TrainSummary& summary, const std::vector<EpochMetrics>& epochs, double target_accuracy);

// Multiplies every update by (1 + stddev * xi), xi ~ N(0, 1): the "rule perturbation" of the
// robustness experiments. `draw` numbers the call, so each gets fresh noise.
void perturb_updates(Backend& backend, const std::vector<Parameter*>& parameters, float stddev, uint64_t seed,
                     uint64_t draw);

TrainSummary train(Network& network, Rule& rule, Optimizer& optimizer, const DataSplits& data, Backend& backend,
                   const TrainSettings& settings);

// One training run driven an epoch or a step at a time: train() is a loop over run_epoch(), and callers that
// drive the loop themselves (the Python module's Trainer) use the same steps, checkpoints and files. The
// constructor attaches the rule and resumes from settings.resume; the pieces must outlive the run.
class TrainingRun {
 public:
  TrainingRun(Network& network, Rule& rule, Optimizer& optimizer, const DataSplits& data, Backend& backend,
              TrainSettings settings);
  ~TrainingRun();
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  // Trains the epoch in progress (the rest of it after a mid-epoch resume) through the batch scheduler, then
  // evaluates, writes the metrics and a checkpoint. False: a stop was requested (stop_request.hpp) or the
  // step limit was reached, and the checkpoint to resume from is written (summary().interrupted).
  bool run_epoch();
  // One optimiser step on a batch the caller made (outside the epoch's order and running sums).
  StepResult step(const Batch& batch);
  // Loss and accuracy on `data` (the rule's inference, the evaluation batch size).
  Evaluation evaluate(const Dataset& data);
  // A checkpoint of the run as it stands (the weights, the rule's matrices, the optimiser's state, the
  // random streams and the loop's position): train --resume and TrainingRun continue from it.
  void save(const std::string& path);
  // summary.json and the plots in the run folder; the summary of the epochs run.
  TrainSummary finish();

  int epoch() const;  // the epoch in progress, or the next one
  // Whether training should end: the target reached with stop_at_target, or early stopping.
  bool done() const { return done_; }
  const TrainSummary& summary() const { return summary_; }
  const std::vector<Parameter*>& trainable() const { return parameters_; }

 private:
  struct State;
  StepResult train_step(const Batch& batch, Batch& share_batch);
  void stop_here(int signal);
  bool must_stop() const;

  Network& network_;
  Rule& rule_;
  Optimizer& optimizer_;
  const DataSplits& data_;
  Backend& backend_;
  TrainSettings settings_;
  std::vector<Parameter*> parameters_;
  std::unique_ptr<State> state_;
  TrainSummary summary_;
  bool done_ = false;
};

// Writes `text` to `path` through a temporary file and a rename.
void write_file_atomically(const std::string& path, const std::string& text);

// Checkpoints: the run record (JSON, which holds the net definition) and every parameter by name.
// `extra`: parameters owned by the rule (saved after the net's).
void save_checkpoint(const std::string& path, Network& network, Backend& backend, const nlohmann::json& record,
                     const std::vector<Parameter*>& extra = {});
// Reads the record of a checkpoint (to rebuild its net) without the weights.
nlohmann::json read_checkpoint_record(const std::string& path);
// The record's list of saved parameters, every field checked (names, shapes within range).
struct SavedParameter {
  std::string name;
  Shape shape;
  size_t numel = 0;
};
std::vector<SavedParameter> checkpoint_parameters(const nlohmann::json& record, const std::string& path);
// A checkpoint's net rebuilt from its record (net file text, sample shape, classes, bias; every field
// checked) with its weights loaded, refused if training it on `batch_size` would not fit the backend.
struct CheckpointNet {
  nlohmann::json record;
  NetSource source;
  std::string dataset;
  std::unique_ptr<Network> network;
};
CheckpointNet load_checkpoint_net(const std::string& path, Backend& backend, int batch_size);
// Every parameter a checkpoint holds (the net's, then the rule's own, e.g. learned feedback matrices), by
// name, as host tensors: for tools that read weights without a net (the Python module).
std::vector<std::pair<std::string, Tensor>> read_checkpoint_tensors(const std::string& path);
// Loads the weights (and `extra`, a rule's own matrices) into a net built from the record; names and
// shapes must match.
void load_checkpoint_weights(const std::string& path, Network& network, Backend& backend,
                             const std::vector<Parameter*>& extra = {});

}  // namespace bioprop
