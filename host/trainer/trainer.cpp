#include "bioprop/trainer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
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

// The summary's accuracies and epochs-to-target from the metrics of the epochs run so far.
void summarise(TrainSummary& summary, const std::vector<EpochMetrics>& epochs, double target_accuracy) {
  summary.epochs = epochs;
  for (const EpochMetrics& m : epochs) {
    summary.final_test_accuracy = m.test_accuracy;
    summary.best_test_accuracy = std::max(summary.best_test_accuracy, m.test_accuracy);
    if (target_accuracy > 0 && m.test_accuracy >= target_accuracy && summary.epochs_to_target < 0)
      summary.epochs_to_target = m.epoch;
  }
}

}  // namespace

TrainSummary train(Network& network, Rule& rule, Optimizer& optimizer, const DataSplits& data, Backend& backend,
                   const TrainSettings& settings) {
  Communicator* communicator = settings.communicator;
  const int ranks = communicator ? communicator->size() : 1, rank = communicator ? communicator->rank() : 0;
  if (ranks > 1) {
    nlohmann::json same_on_every_rank = settings.record;
    if (same_on_every_rank.is_object()) same_on_every_rank.erase("device");  // each rank has its own GPU
    if (!communicator->all_equal(std::hash<std::string>{}(same_on_every_rank.dump())))
      fail(
          "the {} ranks of this job were started with different settings (rule, net, data or options): every rank "
          "must run the same command",
          ranks);
  }
  if (ranks > 1 && settings.batch_size < ranks)
    fail("a batch of {} cannot be shared by {} ranks: use --batch-size {} or more", settings.batch_size, ranks, ranks);
  // Only rank 0 writes (metrics, plots, checkpoints); the others train and evaluate their shares.
  const std::filesystem::path folder = rank == 0 ? settings.run_folder : std::string();
  if (!folder.empty()) std::filesystem::create_directories(folder);
  const std::string checkpoint = rank != 0                                        ? std::string()
                                 : settings.checkpoint.empty() && !folder.empty() ? (folder / "checkpoint.bin").string()
                                                                                  : settings.checkpoint;
  rule.attach(network, backend, settings.seed);
  const int evaluation_batch = settings.eval_batch_size > 0 ? settings.eval_batch_size : settings.batch_size;
  TrainingNoise noise = settings.noise;
  noise.seed = settings.seed;
  network.set_training_noise(noise);
  const auto parameters = rule.trainable(network);
  // Matrices a rule changes inside its step, outside the optimiser: averaged over the ranks after each step.
  std::vector<Parameter*> rule_updated;
  for (Parameter* p : rule.rule_parameters())
    if (std::find(parameters.begin(), parameters.end(), p) == parameters.end()) rule_updated.push_back(p);
  Progress progress(settings.show_progress && rank == 0);
  // Saved with every checkpoint besides the net: the rule's own matrices, the optimiser's state, the
  // counters of every random stream and the loop's state.
  std::vector<Parameter> optimizer_state = optimizer.state(backend, parameters);
  std::vector<Parameter*> saved_extra = rule.rule_parameters();
  for (Parameter& p : optimizer_state) saved_extra.push_back(&p);
  StreamPositions streams = network.stream_positions();
  for (const StreamPosition& s : rule.stream_positions()) streams.push_back({"rule." + s.name, s.draws});
  RunState state;
  if (!settings.resume.empty())
    state = resume_from(settings.resume, network, rule, backend, optimizer, optimizer_state, streams);
  if (state.epoch > settings.epochs)
    fail("{} was written after epoch {}: ask for more epochs to continue it (--epochs {} or more)", settings.resume,
         state.epoch - 1, state.epoch);
  TrainSummary summary;
  summarise(summary, state.epochs, settings.target_accuracy);
  const float base_learning_rate = optimizer.learning_rate();
  auto last_checkpoint = std::chrono::steady_clock::now();
  bool unsaved_steps = false;  // steps taken since the last checkpoint
  const auto save = [&] {
    last_checkpoint = std::chrono::steady_clock::now();
    unsaved_steps = false;
    if (checkpoint.empty()) return;
    nlohmann::json record = settings.record;
    record["epoch"] = state.epoch - 1;  // epochs finished
    if (!state.epochs.empty()) record["test_accuracy"] = state.epochs.back().test_accuracy;
    record["optimizer_steps"] = optimizer.steps();
    record["run_state"] = to_json(state, streams);
    save_checkpoint(checkpoint, network, backend, record, saved_extra);
  };
  // After a stop request (a signal, or the step limit): a checkpoint, then back to the caller.
  const auto stop_here = [&](int signal) {
    if (unsaved_steps) save();  // a stop right after an epoch's checkpoint writes it only once
    summary.interrupted = true;
    summary.stop_signal = signal;
    summary.checkpoint = checkpoint;
    summary.stopped_at_epoch = state.epoch;
    summary.batches_done = state.batches_done;
    spdlog::info("stopped in epoch {} after batch {}{}", state.epoch, state.batches_done,
                 checkpoint.empty() ? "" : fmt::format("; checkpoint written to {}", checkpoint));
    return summary;
  };
  const auto must_stop = [&] {
    return stop_requested() != 0 || (settings.stop_after_steps > 0 && state.steps >= settings.stop_after_steps);
  };

  while (state.epoch <= settings.epochs) {
    const int epoch = state.epoch;
    if (settings.lr_step_epochs > 0)
      optimizer.set_learning_rate(static_cast<float>(
          base_learning_rate * std::pow(settings.lr_step_factor, (epoch - 1) / settings.lr_step_epochs)));
    const auto start = std::chrono::steady_clock::now();
    const auto batches = make_batch_source(data.train, settings.batch_size, /*shuffle=*/true, settings.seed, epoch,
                                           backend, settings.augmentation, state.batches_done);
    progress.start_epoch(epoch, settings.epochs, batches->batches());
    Batch batch, share_batch;
    const long seen_before = state.seen;  // images trained in this epoch before a resume
    network.set_training(true);
    while (true) {
      {
        ProfileRange range("load and upload batch");
        if (!batches->next(backend, batch)) break;
      }
      StepResult step;
      const int trials = batch.size();  // of the global batch, over every rank
      const Share share = share_of(trials, rank, ranks);
      if (ranks > 1) take_share(batch, share, backend, share_batch);
      {
        ProfileRange range("rule step (forward + credit assignment)");
        if (share.count > 0) {
          step = rule.step(network, ranks > 1 ? share_batch : batch, backend);
        } else {  // a last batch smaller than the job: this rank adds nothing
          for (Parameter* p : parameters) backend.fill(p->grad, 0.0f);
        }
      }
      if (ranks > 1) {
        ProfileRange range("sum updates over ranks");
        sum_updates(*communicator, parameters, static_cast<double>(share.count) / trials, backend);
        average_values(*communicator, rule_updated, backend);
        double sums[2] = {static_cast<double>(step.loss) * share.count, static_cast<double>(step.correct)};
        communicator->all_reduce_sum(sums, 2);
        step.loss = static_cast<float>(sums[0] / trials);
        step.correct = static_cast<int>(std::lround(sums[1]));
      }
      if (settings.update_noise > 0)
        perturb_updates(backend, parameters, settings.update_noise, settings.seed, state.steps);
      ++state.steps;
      if (!std::isfinite(step.loss))
        fail("the loss became {} at epoch {}, batch {} (rule '{}', {}): the run diverged; lower the learning rate",
             step.loss, epoch, state.batches_done + 1, rule.name(), optimizer.describe());
      {
        ProfileRange range("update");
        optimizer.step(backend, parameters);
        rule.after_update(network, backend);
      }
      state.loss_sum += static_cast<double>(step.loss) * trials;
      state.correct += step.correct;
      state.seen += trials;
      ++state.batches_done;
      unsaved_steps = true;
      progress.update(state.batches_done, state.seen, state.loss_sum / static_cast<double>(state.seen),
                      static_cast<double>(state.correct) / static_cast<double>(state.seen));
      if (must_stop()) {
        progress.finish_epoch();
        return stop_here(stop_requested());
      }
      if (settings.checkpoint_every_minutes > 0 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - last_checkpoint).count() >=
              60.0 * settings.checkpoint_every_minutes)
        save();
    }
    progress.finish_epoch();
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const long seen_now = state.seen - seen_before;

    EpochMetrics m;
    m.epoch = epoch;
    m.train_loss = state.loss_sum / static_cast<double>(std::max(1L, state.seen));
    m.train_accuracy = static_cast<double>(state.correct) / static_cast<double>(std::max(1L, state.seen));
    if (data.validation.size() > 0)
      m.validation_accuracy =
          evaluate(network, data.validation, backend, evaluation_batch, &rule, communicator).accuracy;
    if (settings.alignment) {
      // Always the first training images, so epochs compare like with like.
      BatchIterator probe(data.train, settings.batch_size, /*shuffle=*/false, 0, 0);
      Batch first;
      probe.next(backend, first);
      m.alignment = measure_alignment(network, rule, first, backend);
      std::string line;
      for (const LayerAlignment& a : m.alignment)
        line += fmt::format(" layer {}: update {:.1f} deg{}", a.layer, a.update_angle,
                            a.feedback_angle >= 0 ? fmt::format(", B vs W {:.1f} deg", a.feedback_angle) : "");
      spdlog::info("alignment with bp:{}", line);
    }
    const Evaluation test = evaluate(network, data.test, backend, evaluation_batch, &rule, communicator);
    m.test_loss = test.loss;
    m.test_accuracy = test.accuracy;
    m.seconds = train_seconds;  // of this process: a resumed epoch counts only the part trained after the resume
    m.images_per_second = static_cast<double>(seen_now) / std::max(train_seconds, 1e-9);
    m.data_wait_fraction = batches->waited_seconds() / std::max(train_seconds, 1e-9);
    state.epochs.push_back(m);
    const bool reached_before = summary.epochs_to_target > 0;
    summarise(summary, state.epochs, settings.target_accuracy);
    spdlog::info(
        "epoch {}: train loss {:.4f} acc {:.2f}% | {}test acc {:.2f}% | {:.1f} s, {:.0f} img/s, waited for "
        "data {:.1f}%",
        epoch, m.train_loss, 100 * m.train_accuracy,
        m.validation_accuracy >= 0 ? fmt::format("val acc {:.2f}% | ", 100 * m.validation_accuracy) : "",
        100 * m.test_accuracy, m.seconds, m.images_per_second, 100 * m.data_wait_fraction);

    const bool reached = settings.target_accuracy > 0 && m.test_accuracy >= settings.target_accuracy;
    if (reached && !reached_before)
      spdlog::info("target test accuracy {:.2f}% reached after {} epoch(s)", 100 * settings.target_accuracy, epoch);
    if (!folder.empty()) write_metrics(folder, state.epochs);
    if (!folder.empty() && settings.alignment) write_alignment_metrics(folder, state.epochs);
    // Early stopping as Keras's EarlyStopping(min_delta, patience, mode="max") in the reference code.
    const double monitored = m.validation_accuracy >= 0 ? m.validation_accuracy : m.test_accuracy;
    bool stop_early = false;
    if (monitored > state.best_monitored + settings.min_delta) {
      state.best_monitored = monitored;
      state.epochs_without_gain = 0;
    } else if (settings.patience > 0 && ++state.epochs_without_gain >= settings.patience) {
      stop_early = true;
    }
    state.start_epoch(epoch + 1);
    save();
    if (reached && settings.stop_at_target) break;
    if (stop_early) {
      spdlog::info("early stop after epoch {}: {} epochs without a gain of {} in {} accuracy", epoch, settings.patience,
                   settings.min_delta, m.validation_accuracy >= 0 ? "validation" : "test");
      summary.stopped_early = true;
      break;
    }
    if (must_stop() && state.epoch <= settings.epochs) return stop_here(stop_requested());
  }

  if (!folder.empty()) {
    nlohmann::json result = settings.record;
    result["epochs_run"] = summary.epochs.size();
    result["stopped_early"] = summary.stopped_early;
    result["final_test_accuracy"] = summary.final_test_accuracy;
    result["best_test_accuracy"] = summary.best_test_accuracy;
    result["target_accuracy"] = settings.target_accuracy;
    result["epochs_to_target"] =
        summary.epochs_to_target < 0 ? nlohmann::json(nullptr) : nlohmann::json(summary.epochs_to_target);
    write_file_atomically((folder / "summary.json").string(), result.dump(2) + "\n");
    plot_accuracy(folder.string(), settings, summary);
    if (settings.alignment)
      plot_alignment(folder.string(), fmt::format("rule {}, net {}", settings.record.value("rule", std::string{"?"}),
                                                  settings.record.value("net", std::string{"?"})));
  }
  return summary;
}

}  // namespace bioprop
