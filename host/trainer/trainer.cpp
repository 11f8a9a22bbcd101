#include "bioprop/trainer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>

#include "alignment_report.hpp"
#include "bioprop/distributed.hpp"
#include "bioprop/error.hpp"
#include "bioprop/json_fields.hpp"
#include "bioprop/plotting.hpp"
#include "bioprop/profiling.hpp"
#include "bioprop/stop_request.hpp"
#include "data_parallel.hpp"
#include "progress.hpp"
#include "run_state.hpp"

namespace bioprop {

void perturb_updates(Backend& backend, const std::vector<Parameter*>& parameters, float stddev, uint64_t seed,
                     uint64_t draw) {
  for (size_t p = 0; p < parameters.size(); ++p)
    backend.multiply_by_noise(parameters[p]->grad, stddev, seed ^ 0x0BDA7Eu,
                              (draw << 32) + (static_cast<uint64_t>(p) << 24));
}

namespace {
// Loads a checkpoint of an earlier run of this rule into the attached net (weights, batch-norm
// statistics, feedback matrices), the optimiser's state and the random streams' positions, and returns
// the loop's state. A checkpoint written with another optimiser has no state for this one, which then
// starts afresh (said in a warning).
RunState resume_from(const std::string& path, Network& network, Rule& rule, Backend& backend, Optimizer& optimizer,
                     std::vector<Parameter>& optimizer_state, const StreamPositions& streams) {
  const nlohmann::json record = read_checkpoint_record(path);
  const std::string written_by = json_field<std::string>(record, "rule", path);
  if (written_by != rule.name())
    fail("{}: written by rule '{}', this run uses '{}'; resume with the same rule and net", path, written_by,
         rule.name());
  std::set<std::string> saved;
  for (const SavedParameter& p : checkpoint_parameters(record, path)) saved.insert(p.name);
  std::vector<Parameter*> extra = rule.rule_parameters();
  const bool has_state = std::all_of(optimizer_state.begin(), optimizer_state.end(),
                                     [&](const Parameter& p) { return saved.count(p.name) > 0; });
  if (has_state)
    for (Parameter& p : optimizer_state) extra.push_back(&p);
  else
    spdlog::warn("{} holds no state for this optimiser (written with another one?): its state starts afresh", path);
  load_checkpoint_weights(path, network, backend, extra);
  if (has_state) optimizer.set_steps(json_field<int>(record, "optimizer_steps", path));
  RunState state = run_state_from_json(json_field<nlohmann::json>(record, "run_state", path), streams, path);
  spdlog::info("resuming from {} (epoch {}, after batch {})", path, state.epoch, state.batches_done);
  return state;
}

// accuracy.png: train, validation and test accuracy per epoch from metrics.csv, with the target line.
void plot_accuracy(const std::string& folder, const TrainSettings& settings, const TrainSummary& summary) {
  const auto text = [&](const char* key) { return settings.record.value(key, std::string{"?"}); };
  std::string script = fmt::format(
      "# gnuplot script drawn by `bioprop train`; edit and re-run: gnuplot accuracy.gp\n"
      "set terminal pngcairo size 900,560 noenhanced\nset output 'accuracy.png'\nset datafile separator ','\n"
      "set key bottom right\nset grid\nset xlabel 'epoch'\nset ylabel 'accuracy (%)'\n"
      "set title 'rule {}, net {}, {}'\n",
      text("rule"), text("net"), text("dataset"));
  if (settings.target_accuracy > 0)
    script += fmt::format("set arrow from graph 0, first {0} to graph 1, first {0} nohead dashtype 2\n",
                          100 * settings.target_accuracy);
  script +=
      "plot 'metrics.csv' skip 1 using 1:($3*100) with linespoints title 'train', "
      "'metrics.csv' skip 1 using 1:($6*100) with linespoints title 'test'";
  if (!summary.epochs.empty() && summary.epochs.back().validation_accuracy >= 0)
    script += ", 'metrics.csv' skip 1 using 1:($4*100) with linespoints title 'validation'";
  draw_with_gnuplot(folder, "accuracy.gp", script + "\n");
}
}  // namespace

Evaluation evaluate(Network& network, const Dataset& data, Backend& backend, int batch_size, Rule* rule,
                    Communicator* communicator) {
  ProfileRange range("evaluate");
  if (communicator && communicator->size() > 1) {
    // This rank's contiguous share of the images, then the sums of every rank's loss and count.
    const Share share = share_of(data.size(), communicator->rank(), communicator->size());
    std::vector<int> indexes(static_cast<size_t>(share.count));
    for (int i = 0; i < share.count; ++i) indexes[static_cast<size_t>(i)] = share.first + i;
    const Evaluation part = evaluate(network, data.subset(indexes), backend, batch_size, rule);
    double sums[2] = {part.loss * share.count, part.accuracy * share.count};
    communicator->all_reduce_sum(sums, 2);
    const double n = std::max(1, data.size());
    return {sums[0] / n, std::round(sums[1]) / n};
  }
  network.set_training(false);
  // The training loop's batch source: on a GPU the next batch uploads while this one is evaluated.
  const auto batches = make_batch_source(data, batch_size, /*shuffle=*/false, 0, 0, backend);
  Batch batch;
  double loss_sum = 0.0;
  long correct = 0;
  while (batches->next(backend, batch)) {
    const Tensor& outputs = rule ? rule->infer(network, batch.inputs, backend) : network.forward(backend, batch.inputs);
    Tensor& doutputs = network.gradient(network.size());
    doutputs.resize(outputs.shape(), backend.device());  // a rule's own inference leaves the net's buffers alone
    const ScoredLoss scored = backend.scored_softmax_cross_entropy(outputs, batch.labels, doutputs);
    loss_sum += static_cast<double>(scored.loss) * batch.size();
    correct += scored.correct;
  }
  const double n = std::max(1, data.size());
  return {loss_sum / n, static_cast<double>(correct) / n};
}

namespace {

// metrics.jsonl and metrics.csv, rewritten whole (atomically) after every epoch.
void write_metrics(const std::filesystem::path& folder, const std::vector<EpochMetrics>& epochs) {
  std::string jsonl;
  std::string csv =
      "epoch,train_loss,train_accuracy,validation_accuracy,test_loss,test_accuracy,seconds,images_per_second,"
      "data_wait_fraction\n";
  for (const EpochMetrics& m : epochs) {
    jsonl += to_json(m).dump() + "\n";
    csv += fmt::format("{},{:.6f},{:.6f},{},{:.6f},{:.6f},{:.3f},{:.1f},{:.4f}\n", m.epoch, m.train_loss,
                       m.train_accuracy, m.validation_accuracy >= 0 ? fmt::format("{:.6f}", m.validation_accuracy) : "",
                       m.test_loss, m.test_accuracy, m.seconds, m.images_per_second, m.data_wait_fraction);
  }
  write_file_atomically((folder / "metrics.jsonl").string(), jsonl);
  write_file_atomically((folder / "metrics.csv").string(), csv);
}

}  // namespace

// The summary's accuracies and epochs-to-target from the metrics of the epochs run so far.
void summarise_epochs(TrainSummary& summary, const std::vector<EpochMetrics>& epochs, double target_accuracy) {
  summary.epochs = epochs;
  for (const EpochMetrics& m : epochs) {
    summary.final_test_accuracy = m.test_accuracy;
    summary.best_test_accuracy = std::max(summary.best_test_accuracy, m.test_accuracy);
    if (target_accuracy > 0 && m.test_accuracy >= target_accuracy && summary.epochs_to_target < 0)
      summary.epochs_to_target = m.epoch;
  }
}

// The loop's state besides the pieces the run was given.
struct TrainingRun::State {
  Communicator* communicator = nullptr;
  int ranks = 1, rank = 0;
  std::filesystem::path folder;  // empty on ranks other than 0: only rank 0 writes
  std::string checkpoint;
  int evaluation_batch = 0;
  // Matrices a rule changes inside its step, outside the optimiser: averaged over the ranks after each step.
  std::vector<Parameter*> rule_updated;
  Progress progress;
  // Saved with every checkpoint besides the net: the rule's own matrices, the optimiser's state, the
  // counters of every random stream and the loop's state.
  std::vector<Parameter> optimizer_state;
  std::vector<Parameter*> saved_extra;
  StreamPositions streams;
  RunState run;
  float base_learning_rate = 0.0f;
  std::chrono::steady_clock::time_point last_checkpoint = std::chrono::steady_clock::now();
  bool unsaved_steps = false;  // steps taken since the last checkpoint

  explicit State(bool show_progress) : progress(show_progress) {}
};

TrainingRun::TrainingRun(Network& network, Rule& rule, Optimizer& optimizer, const DataSplits& data, Backend& backend,
                         TrainSettings settings)
    : network_(network),
      rule_(rule),
      optimizer_(optimizer),
      data_(data),
      backend_(backend),
      settings_(std::move(settings)) {
  Communicator* communicator = settings_.communicator;
  const int ranks = communicator ? communicator->size() : 1, rank = communicator ? communicator->rank() : 0;
  if (ranks > 1) {
    nlohmann::json same_on_every_rank = settings_.record;
    if (same_on_every_rank.is_object()) same_on_every_rank.erase("device");  // each rank has its own GPU
    if (!communicator->all_equal(std::hash<std::string>{}(same_on_every_rank.dump())))
      fail(
          "the {} ranks of this job were started with different settings (rule, net, data or options): every rank "
          "must run the same command",
          ranks);
  }
  if (ranks > 1 && settings_.batch_size < ranks)
    fail("a batch of {} cannot be shared by {} ranks: use --batch-size {} or more", settings_.batch_size, ranks, ranks);
  if (ranks > 1 && (settings_.sync_batch_norm || rule.sums_inside_step())) {
    // Every rank must join every batch's sums inside the step: no batch may leave a rank without trials.
    const int last = data.train.size() % settings_.batch_size;
    if (last > 0 && last < ranks)
      fail(
          "{}: the last batch of every epoch holds {} image(s), fewer than the {} ranks; choose a batch size or "
          "--train-limit that leaves at least {} (or none)",
          settings_.sync_batch_norm ? "--sync-batch-norm"
                                    : fmt::format("rule '{}' (sums inside its step)", rule.name()),
          last, ranks, ranks);
  }
  state_ = std::make_unique<State>(settings_.show_progress && rank == 0);
  State& s = *state_;
  s.communicator = communicator;
  s.ranks = ranks;
  s.rank = rank;
  s.folder = rank == 0 ? settings_.run_folder : std::string();
  if (!s.folder.empty()) std::filesystem::create_directories(s.folder);
  s.checkpoint = rank != 0                                           ? std::string()
                 : settings_.checkpoint.empty() && !s.folder.empty() ? (s.folder / "checkpoint.bin").string()
                                                                     : settings_.checkpoint;
  rule.attach(network, backend, settings_.seed);
  s.evaluation_batch = settings_.eval_batch_size > 0 ? settings_.eval_batch_size : settings_.batch_size;
  TrainingNoise noise = settings_.noise;
  noise.seed = settings_.seed;
  network.set_training_noise(noise);
  parameters_ = rule.trainable(network);
  for (Parameter* p : rule.changed_in_step())
    if (std::find(parameters_.begin(), parameters_.end(), p) == parameters_.end()) s.rule_updated.push_back(p);
  s.optimizer_state = optimizer.state(backend, parameters_);
  s.saved_extra = rule.rule_parameters();
  for (Parameter& p : s.optimizer_state) s.saved_extra.push_back(&p);
  s.streams = network.stream_positions();
  for (const StreamPosition& position : rule.stream_positions())
    s.streams.push_back({"rule." + position.name, position.draws});
  if (!settings_.resume.empty())
    s.run = resume_from(settings_.resume, network, rule, backend, optimizer, s.optimizer_state, s.streams);
  if (s.run.epoch > settings_.epochs)
    fail("{} was written after epoch {}: ask for more epochs to continue it (--epochs {} or more)", settings_.resume,
         s.run.epoch - 1, s.run.epoch);
  summarise_epochs(summary_, s.run.epochs, settings_.target_accuracy);
  s.base_learning_rate = optimizer.learning_rate();
}

TrainingRun::~TrainingRun() = default;

int TrainingRun::epoch() const { return state_->run.epoch; }

void TrainingRun::save(const std::string& path) {
  State& s = *state_;
  s.last_checkpoint = std::chrono::steady_clock::now();
  s.unsaved_steps = false;
  if (path.empty()) return;
  nlohmann::json record = settings_.record;
  record["epoch"] = s.run.epoch - 1;  // epochs finished
  if (!s.run.epochs.empty()) record["test_accuracy"] = s.run.epochs.back().test_accuracy;
  record["optimizer_steps"] = optimizer_.steps();
  record["run_state"] = to_json(s.run, s.streams);
  save_checkpoint(path, network_, backend_, record, s.saved_extra);
}

// After a stop request (a signal, or the step limit): a checkpoint, then back to the caller.
void TrainingRun::stop_here(int signal) {
  State& s = *state_;
  if (s.unsaved_steps) save(s.checkpoint);  // a stop right after an epoch's checkpoint writes it only once
  summary_.interrupted = true;
  summary_.stop_signal = signal;
  summary_.checkpoint = s.checkpoint;
  summary_.stopped_at_epoch = s.run.epoch;
  summary_.batches_done = s.run.batches_done;
  spdlog::info("stopped in epoch {} after batch {}{}", s.run.epoch, s.run.batches_done,
               s.checkpoint.empty() ? "" : fmt::format("; checkpoint written to {}", s.checkpoint));
}

bool TrainingRun::must_stop() const {
  return stop_requested() != 0 || (settings_.stop_after_steps > 0 && state_->run.steps >= settings_.stop_after_steps);
}

StepResult TrainingRun::step(const Batch& batch) {
  Batch share_batch;
  network_.set_training(true);
  const StepResult result = train_step(batch, share_batch);
  state_->unsaved_steps = true;
  return result;
}

// The rule's step on this rank's share of the batch, the updates summed over the ranks, then the optimiser.
StepResult TrainingRun::train_step(const Batch& batch, Batch& share_batch) {
  State& s = *state_;
  StepResult step;
  const int trials = batch.size();  // of the global batch, over every rank
  const Share share = share_of(trials, s.rank, s.ranks);
  if (s.ranks > 1) take_share(batch, share, backend_, share_batch);
  network_.set_first_trial(static_cast<uint64_t>(share.first));  // per-trial draws: one process's
  if (s.ranks > 1 && settings_.sync_batch_norm)
    network_.set_statistics_sync(s.communicator, static_cast<double>(share.count) / trials);
  if (s.ranks > 1) network_.set_job(s.communicator, static_cast<double>(share.count) / trials);
  std::optional<UpdateSums> update_sums;
  if (s.ranks > 1)
    update_sums.emplace(*s.communicator, backend_, parameters_, static_cast<double>(share.count) / trials);
  // Each layer's sum starts once the rule announces its update, when every rank announces the same layers: a
  // rank without trials (a last batch smaller than the job) runs no step, so then the sums wait for the end.
  std::optional<SumsOnAnnouncement> overlap;
  if (update_sums && rule_.announces_updates() && trials >= s.ranks) overlap.emplace(network_, *update_sums);
  {
    ProfileRange range("rule step (forward + credit assignment)");
    if (share.count > 0) {
      step = rule_.step(network_, s.ranks > 1 ? share_batch : batch, backend_);
    } else {  // a last batch smaller than the job: this rank adds nothing
      for (Parameter* p : parameters_) backend_.fill(p->grad, 0.0f);
    }
  }
  overlap.reset();
  if (update_sums) {
    ProfileRange range("sum updates over ranks");
    update_sums->finish();
    average_values(*s.communicator, s.rule_updated, backend_);
    double sums[2] = {static_cast<double>(step.loss) * share.count, static_cast<double>(step.correct)};
    s.communicator->all_reduce_sum(sums, 2);
    step.loss = static_cast<float>(sums[0] / trials);
    step.correct = static_cast<int>(std::lround(sums[1]));
  }
  if (settings_.update_noise > 0)
    perturb_updates(backend_, parameters_, settings_.update_noise, settings_.seed, s.run.steps);
  ++s.run.steps;
  if (!std::isfinite(step.loss))
    throw DivergedError(
        fmt::format(
            "the loss became {} at epoch {}, batch {} (rule '{}', {}): the run diverged; lower the learning rate",
            step.loss, s.run.epoch, s.run.batches_done + 1, rule_.name(), optimizer_.describe()),
        s.run.epoch, s.run.epochs);
  {
    ProfileRange range("update");
    optimizer_.step(backend_, parameters_);
    rule_.after_update(network_, backend_);
  }
  return step;
}

Evaluation TrainingRun::evaluate(const Dataset& data) {
  return bioprop::evaluate(network_, data, backend_, state_->evaluation_batch, &rule_, state_->communicator);
}

bool TrainingRun::run_epoch() {
  State& s = *state_;
  RunState& state = s.run;
  const int epoch = state.epoch;
  if (settings_.lr_step_epochs > 0)
    optimizer_.set_learning_rate(static_cast<float>(
        s.base_learning_rate * std::pow(settings_.lr_step_factor, (epoch - 1) / settings_.lr_step_epochs)));
  const auto start = std::chrono::steady_clock::now();
  const auto batches = make_batch_source(data_.train, settings_.batch_size, /*shuffle=*/true, settings_.seed, epoch,
                                         backend_, settings_.augmentation, state.batches_done);
  s.progress.start_epoch(epoch, settings_.epochs, batches->batches());
  Batch batch, share_batch;
  const long seen_before = state.seen;  // images trained in this epoch before a resume
  network_.set_training(true);
  while (true) {
    {
      ProfileRange range("load and upload batch");
      if (!batches->next(backend_, batch)) break;
    }
    const StepResult step = train_step(batch, share_batch);
    const int trials = batch.size();
    state.loss_sum += static_cast<double>(step.loss) * trials;
    state.correct += step.correct;
    state.seen += trials;
    ++state.batches_done;
    s.unsaved_steps = true;
    s.progress.update(state.batches_done, state.seen, state.loss_sum / static_cast<double>(state.seen),
                      static_cast<double>(state.correct) / static_cast<double>(state.seen));
    if (must_stop()) {
      s.progress.finish_epoch();
      stop_here(stop_requested());
      return false;
    }
    if (settings_.checkpoint_every_minutes > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - s.last_checkpoint).count() >=
            60.0 * settings_.checkpoint_every_minutes)
      save(s.checkpoint);
  }
  s.progress.finish_epoch();
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long seen_now = state.seen - seen_before;

  EpochMetrics m;
  m.epoch = epoch;
  m.train_loss = state.loss_sum / static_cast<double>(std::max(1L, state.seen));
  m.train_accuracy = static_cast<double>(state.correct) / static_cast<double>(std::max(1L, state.seen));
  if (data_.validation.size() > 0) m.validation_accuracy = evaluate(data_.validation).accuracy;
  if (settings_.alignment) {
    // Always the first training images, so epochs compare like with like.
    BatchIterator probe(data_.train, settings_.batch_size, /*shuffle=*/false, 0, 0);
    Batch first;
    probe.next(backend_, first);
    m.alignment = measure_alignment(network_, rule_, first, backend_);
    std::string line;
    for (const LayerAlignment& a : m.alignment)
      line += fmt::format(" layer {}: update {:.1f} deg{}", a.layer, a.update_angle,
                          a.feedback_angle >= 0 ? fmt::format(", B vs W {:.1f} deg", a.feedback_angle) : "");
    spdlog::info("alignment with bp:{}", line);
  }
  const Evaluation test = evaluate(data_.test);
  m.test_loss = test.loss;
  m.test_accuracy = test.accuracy;
  m.seconds = train_seconds;  // of this process: a resumed epoch counts only the part trained after the resume
  m.images_per_second = static_cast<double>(seen_now) / std::max(train_seconds, 1e-9);
  m.data_wait_fraction = batches->waited_seconds() / std::max(train_seconds, 1e-9);
  state.epochs.push_back(m);
  const bool reached_before = summary_.epochs_to_target > 0;
  summarise_epochs(summary_, state.epochs, settings_.target_accuracy);
  spdlog::info(
      "epoch {}: train loss {:.4f} acc {:.2f}% | {}test acc {:.2f}% | {:.1f} s, {:.0f} img/s, waited for "
      "data {:.1f}%",
      epoch, m.train_loss, 100 * m.train_accuracy,
      m.validation_accuracy >= 0 ? fmt::format("val acc {:.2f}% | ", 100 * m.validation_accuracy) : "",
      100 * m.test_accuracy, m.seconds, m.images_per_second, 100 * m.data_wait_fraction);

  const bool reached = settings_.target_accuracy > 0 && m.test_accuracy >= settings_.target_accuracy;
  if (reached && !reached_before)
    spdlog::info("target test accuracy {:.2f}% reached after {} epoch(s)", 100 * settings_.target_accuracy, epoch);
  if (!s.folder.empty()) write_metrics(s.folder, state.epochs);
  if (!s.folder.empty() && settings_.alignment) write_alignment_metrics(s.folder, state.epochs);
  // Early stopping as Keras's EarlyStopping(min_delta, patience, mode="max") in the reference code.
  const double monitored = m.validation_accuracy >= 0 ? m.validation_accuracy : m.test_accuracy;
  bool stop_early = false;
  if (monitored > state.best_monitored + settings_.min_delta) {
    state.best_monitored = monitored;
    state.epochs_without_gain = 0;
  } else if (settings_.patience > 0 && ++state.epochs_without_gain >= settings_.patience) {
    stop_early = true;
  }
  state.start_epoch(epoch + 1);
  save(s.checkpoint);
  if (reached && settings_.stop_at_target) done_ = true;
  if (stop_early && !done_) {
    spdlog::info("early stop after epoch {}: {} epochs without a gain of {} in {} accuracy", epoch, settings_.patience,
                 settings_.min_delta, m.validation_accuracy >= 0 ? "validation" : "test");
    summary_.stopped_early = true;
    done_ = true;
  }
  if (!done_ && must_stop() && state.epoch <= settings_.epochs) {
    stop_here(stop_requested());
    return false;
  }
  return true;
}

TrainSummary TrainingRun::finish() {
  const std::filesystem::path& folder = state_->folder;
  if (!folder.empty()) {
    nlohmann::json result = settings_.record;
    result["epochs_run"] = summary_.epochs.size();
    result["stopped_early"] = summary_.stopped_early;
    result["final_test_accuracy"] = summary_.final_test_accuracy;
    result["best_test_accuracy"] = summary_.best_test_accuracy;
    result["target_accuracy"] = settings_.target_accuracy;
    result["epochs_to_target"] =
        summary_.epochs_to_target < 0 ? nlohmann::json(nullptr) : nlohmann::json(summary_.epochs_to_target);
    write_file_atomically((folder / "summary.json").string(), result.dump(2) + "\n");
    plot_accuracy(folder.string(), settings_, summary_);
    if (settings_.alignment)
      plot_alignment(folder.string(), fmt::format("rule {}, net {}", settings_.record.value("rule", std::string{"?"}),
                                                  settings_.record.value("net", std::string{"?"})));
  }
  return summary_;
}

TrainSummary train(Network& network, Rule& rule, Optimizer& optimizer, const DataSplits& data, Backend& backend,
                   const TrainSettings& settings) {
  TrainingRun run(network, rule, optimizer, data, backend, settings);
  while (run.epoch() <= settings.epochs && !run.done())
    if (!run.run_epoch()) return run.summary();
  return run.finish();
}

}  // namespace bioprop
