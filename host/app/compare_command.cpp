// `bioprop compare`: every rule with every seed on the same settings, then the comparison's tables and
// plots. Each run keeps its own folder (runs/<rule>/seed<k>/) with a run.json once it has finished, so
// an interrupted comparison, run again, keeps the finished runs and resumes the stopped one from its
// checkpoint.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "app/commands.hpp"
#include "app/compare_presets.hpp"
#include "app/provenance.hpp"
#include "app/seed_statistics.hpp"
#include "bioprop/device.hpp"
#include "bioprop/device_memory.hpp"
#include "bioprop/error.hpp"
#include "bioprop/json_fields.hpp"
#include "bioprop/plotting.hpp"
#include "bioprop/stop_request.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {
namespace {

namespace fs = std::filesystem;

// RULE[+KEY=VALUE...][=LR]: a rule, its options and its learning rate.
struct RuleSpec {
  std::string label, rule;
  std::vector<std::string> options;  // KEY=VALUE
  std::optional<double> learning_rate;
};

RuleSpec parse_rule_spec(const std::string& text) {
  RuleSpec spec;
  spec.label = text;
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t plus = text.find('+', start);
    parts.push_back(text.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  // The learning rate ends the last part: "fa=0.1" (no options) or "fa+feedback_init=uniform=0.1".
  std::string& last = parts.back();
  if (std::count(last.begin(), last.end(), '=') == (parts.size() == 1 ? 1 : 2)) {
    const std::string number = last.substr(last.rfind('=') + 1);
    char* end = nullptr;
    const double lr = std::strtod(number.c_str(), &end);
    if (number.empty() || *end != '\0' || !(lr > 0))
      fail("--rules '{}': the learning rate '{}' must be a number > 0 (RULE[+KEY=VALUE...][=LR])", text, number);
    spec.learning_rate = lr;
    last.erase(last.rfind('='));
  }
  spec.rule = parts.front();
  if (spec.rule.empty() || spec.rule.find('=') != std::string::npos)
    fail("--rules '{}': expected RULE[+KEY=VALUE...][=LR]", text);
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].find('=') == std::string::npos || parts[i].front() == '=')
      fail("--rules '{}': '{}' is not KEY=VALUE (RULE[+KEY=VALUE...][=LR])", text, parts[i]);
    spec.options.push_back(parts[i]);
  }
  return spec;
}

// The flags of one run: the comparison's, with the rule, its options and learning rate, and the seed.
TrainFlags flags_for(const TrainFlags& base, const RuleSpec& spec, int seed) {
  TrainFlags f = base;
  f.rule = true, f.overrides.rule = spec.rule;
  for (const std::string& o : spec.options) f.rule_options.push_back(o);
  if (spec.learning_rate) f.lr = true, f.learning_rate = *spec.learning_rate;
  f.seed = true, f.overrides.seed = static_cast<uint64_t>(seed);
  return f;
}

std::string folder_name(const std::string& label) {
  std::string name = label;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' && c != '=' && c != '+')
      c = '_';
  return name;
}

// One finished run, as run.json keeps it. A run whose loss became NaN or infinite is finished too: it keeps
// the epochs it completed and the epoch it diverged in.
struct RunRecord {
  std::string label;
  int seed = 0, epochs_run = 0, epochs_to_target = -1, diverged_epoch = 0;  // 0: did not diverge
  double seconds_to_target = -1, best = 0, final = 0, seconds = 0, peak_device_mib = 0;
  std::vector<EpochMetrics> epochs;
};

nlohmann::json to_json(const RunRecord& r) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochMetrics& m : r.epochs)
    epochs.push_back({{"epoch", m.epoch},
                      {"test_accuracy", m.test_accuracy},
                      {"test_loss", m.test_loss},
                      {"train_loss", m.train_loss},
                      {"seconds", m.seconds},
                      {"images_per_second", m.images_per_second}});
  return {{"label", r.label},
          {"seed", r.seed},
          {"epochs_run", r.epochs_run},
          {"epochs_to_target", r.epochs_to_target},
          {"seconds_to_target", r.seconds_to_target},
          {"best_test_accuracy", r.best},
          {"final_test_accuracy", r.final},
          {"seconds", r.seconds},
          {"peak_device_mib", r.peak_device_mib},
          {"diverged_epoch", r.diverged_epoch},
          {"epochs", epochs}};
}

RunRecord record_from_json(const nlohmann::json& j, const std::string& where) {
  RunRecord r;
  r.label = json_field<std::string>(j, "label", where);
  r.seed = json_field<int>(j, "seed", where);
  r.epochs_run = json_field<int>(j, "epochs_run", where);
  r.epochs_to_target = json_field<int>(j, "epochs_to_target", where);
  r.seconds_to_target = json_field<double>(j, "seconds_to_target", where);
  r.best = json_field<double>(j, "best_test_accuracy", where);
  r.final = json_field<double>(j, "final_test_accuracy", where);
  r.seconds = json_field<double>(j, "seconds", where);
  r.peak_device_mib = json_field<double>(j, "peak_device_mib", where);
  r.diverged_epoch = j.value("diverged_epoch", 0);  // absent in records written before it existed
  for (const nlohmann::json& e : json_field<nlohmann::json>(j, "epochs", where)) {
    EpochMetrics m;
    m.epoch = json_field<int>(e, "epoch", where);
    m.test_accuracy = json_field<double>(e, "test_accuracy", where);
    m.test_loss = json_field<double>(e, "test_loss", where);
    m.train_loss = json_field<double>(e, "train_loss", where);
    m.seconds = json_field<double>(e, "seconds", where);
    m.images_per_second = json_field<double>(e, "images_per_second", where);
    r.epochs.push_back(m);
  }
  return r;
}

RunRecord read_record(const fs::path& file) {
  std::ifstream in(file);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not a run record ({}); delete it to train that run again", file.string(), e.what());
  }
  return record_from_json(j, file.string());
}

RunRecord record_of(const std::string& label, int seed, const TrainSummary& s) {
  RunRecord r;
  r.label = label;
  r.seed = seed;
  r.epochs = s.epochs;
  r.epochs_run = static_cast<int>(s.epochs.size());
  r.epochs_to_target = s.epochs_to_target;
  r.best = s.best_test_accuracy;
  r.final = s.final_test_accuracy;
  r.peak_device_mib = static_cast<double>(s.peak_device_bytes) / (1 << 20);
  for (const EpochMetrics& m : s.epochs) {
    r.seconds += m.seconds;
    if (m.epoch == s.epochs_to_target) r.seconds_to_target = r.seconds;
  }
  return r;
}

struct LabelSummary {
  std::string label;
  int runs = 0;
  std::vector<int> diverged_epochs;  // one per run that diverged
  Stats epochs_to_target, seconds_to_target, best, final, peak_mib;
};

LabelSummary summarise(const std::string& label, const std::vector<RunRecord>& runs) {
  std::vector<double> epochs, seconds, best, final, peak;
  std::vector<int> diverged;
  for (const RunRecord& r : runs) {
    if (r.diverged_epoch > 0) diverged.push_back(r.diverged_epoch);
    if (r.epochs_to_target > 0) epochs.push_back(r.epochs_to_target), seconds.push_back(r.seconds_to_target);
    best.push_back(r.best), final.push_back(r.final), peak.push_back(r.peak_device_mib);
  }
  return {label,
          static_cast<int>(runs.size()),
          diverged,
          stats_of(epochs),
          stats_of(seconds),
          stats_of(best),
          stats_of(final),
          stats_of(peak)};
}

// "—", or "2 of 3 (epochs 1, 4)": the runs whose loss became NaN or infinite, and where.
std::string diverged_text(const std::vector<int>& epochs, int runs) {
  if (epochs.empty()) return "—";
  return fmt::format("{} of {} (epoch{} {})", epochs.size(), runs, epochs.size() > 1 ? "s" : "",
                     fmt::join(epochs, ", "));
}

void write_tables(const fs::path& out, const std::vector<RuleSpec>& specs,
                  const std::map<std::string, std::vector<RunRecord>>& runs, const TrainConfig& c,
                  const std::string& device) {
  std::string runs_csv =
      "label,seed,epochs_run,epochs_to_target,seconds_to_target,best_test_accuracy,final_test_accuracy,seconds,"
      "peak_device_mib,diverged_epoch\n";
  std::string runs_jsonl, epochs_csv =
                              "label,seed,epoch,test_accuracy,test_loss,train_loss,seconds,cumulative_seconds,"
                              "images_per_second\n";
  for (const RuleSpec& spec : specs)
    for (const RunRecord& r : runs.at(spec.label)) {
      runs_csv += fmt::format("{},{},{},{},{},{:.6f},{:.6f},{:.3f},{:.1f},{}\n", r.label, r.seed, r.epochs_run,
                              r.epochs_to_target > 0 ? std::to_string(r.epochs_to_target) : "",
                              r.seconds_to_target >= 0 ? fmt::format("{:.3f}", r.seconds_to_target) : "", r.best,
                              r.final, r.seconds, r.peak_device_mib,
                              r.diverged_epoch > 0 ? std::to_string(r.diverged_epoch) : "");
      runs_jsonl += to_json(r).dump() + "\n";
      double cumulative = 0;
      for (const EpochMetrics& m : r.epochs) {
        cumulative += m.seconds;
        epochs_csv +=
            fmt::format("{},{},{},{:.6f},{:.6f},{:.6f},{:.3f},{:.3f},{:.1f}\n", r.label, r.seed, m.epoch,
                        m.test_accuracy, m.test_loss, m.train_loss, m.seconds, cumulative, m.images_per_second);
      }
    }
  write_file_atomically((out / "runs.csv").string(), runs_csv);
  write_file_atomically((out / "runs.jsonl").string(), runs_jsonl);
  write_file_atomically((out / "epochs.csv").string(), epochs_csv);

  std::vector<LabelSummary> summaries;
  for (const RuleSpec& spec : specs) summaries.push_back(summarise(spec.label, runs.at(spec.label)));
  const auto bp = std::find_if(summaries.begin(), summaries.end(), [](const LabelSummary& s) {
    return s.label == "bp" || s.label.rfind("bp=", 0) == 0 || s.label.rfind("bp+", 0) == 0;
  });
  std::string md = fmt::format(
      "# Comparison: net {}, dataset {}, target {:.2f}% test accuracy\n\n"
      "{}; device: {}; bioprop {}; at most {} epochs, batch {}, optimizer {}, {} seed(s) from seed {}{}{}.\n"
      "Mean ± standard deviation over seeds; epochs and seconds to the target over the runs that reached it (a run "
      "that never did is counted as \"not in N\"). Seconds are training time (no evaluation). A run whose loss "
      "became NaN or infinite stops there: it is listed under \"diverged\" (with the epoch), and its accuracies are "
      "those of the epochs it completed (0 if none).\n\n"
      "| rule | runs | epochs to target | seconds to target | best test accuracy (%) | final test accuracy (%) | "
      "epochs vs bp | seconds vs bp | diverged |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
      c.net, c.data.name, 100 * c.target_accuracy, utc_now(), device, source_commit(), c.epochs, c.batch_size,
      c.optimizer, runs.begin()->second.size(), c.seed,
      c.data.train_limit > 0 ? fmt::format(", {} training images", c.data.train_limit) : "",
      c.data.test_limit > 0 ? fmt::format(", {} test images", c.data.test_limit) : "");
  for (const LabelSummary& s : summaries) {
    const auto ratio = [&](const Stats& mine, const Stats& base) {
      return bp != summaries.end() && mine.count > 0 && base.count > 0 && base.mean > 0
                 ? fmt::format("{:.2f}x", mine.mean / base.mean)
                 : std::string("—");
    };
    Stats best = s.best, final = s.final;
    best.mean *= 100, best.sd *= 100, final.mean *= 100, final.sd *= 100;
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", s.label, s.runs,
                      to_target(s.epochs_to_target, s.runs, c.epochs, "{:.1f}"),
                      to_target(s.seconds_to_target, s.runs, c.epochs, "{:.1f}"), mean_sd(best), mean_sd(final),
                      bp == summaries.end() ? "—" : ratio(s.epochs_to_target, bp->epochs_to_target),
                      bp == summaries.end() ? "—" : ratio(s.seconds_to_target, bp->seconds_to_target),
                      diverged_text(s.diverged_epochs, s.runs));
    spdlog::info("{}: {} epochs to {:.2f}%, best {:.2f} ± {:.2f}%, final {:.2f} ± {:.2f}% over {} run(s){}", s.label,
                 to_target(s.epochs_to_target, s.runs, c.epochs, "{:.1f}"), 100 * c.target_accuracy, best.mean, best.sd,
                 final.mean, final.sd, s.runs,
                 s.diverged_epochs.empty() ? "" : "; diverged: " + diverged_text(s.diverged_epochs, s.runs));
  }
  md +=
      "\nRaw data: runs.csv / runs.jsonl (one row per run), epochs.csv (one row per run and epoch); plots: "
      "accuracy_vs_epoch.png, accuracy_vs_seconds.png (mean over seeds, min to max shaded).\n";
  write_file_atomically((out / "summary.md").string(), md);
}

// Per label: epoch, mean, min and max test accuracy over seeds and mean cumulative seconds, for the plots.
void write_curves_and_plots(const fs::path& out, const std::vector<RuleSpec>& specs,
                            const std::map<std::string, std::vector<RunRecord>>& runs, const TrainConfig& c) {
  fs::create_directories(out / "curves");
  std::string by_epoch, by_seconds;
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& records = runs.at(specs[i].label);
    std::string csv = "epoch,mean_test_accuracy,min_test_accuracy,max_test_accuracy,mean_cumulative_seconds\n";
    for (int epoch = 1;; ++epoch) {
      std::vector<double> accuracy;
      double seconds = 0;
      for (const RunRecord& r : records) {
        if (static_cast<int>(r.epochs.size()) < epoch) continue;
        accuracy.push_back(r.epochs[static_cast<size_t>(epoch) - 1].test_accuracy);
        for (int e = 0; e < epoch; ++e) seconds += r.epochs[static_cast<size_t>(e)].seconds;
      }
      if (accuracy.empty()) break;
      const Stats s = stats_of(accuracy);
      csv += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.3f}\n", epoch, s.mean,
                         *std::min_element(accuracy.begin(), accuracy.end()),
                         *std::max_element(accuracy.begin(), accuracy.end()), seconds / s.count);
    }
    const std::string file = fmt::format("curves/{}.csv", i + 1);
    write_file_atomically((out / file).string(), csv);
    const std::string sep = i == 0 ? "plot " : ", ";
    for (auto [plot, x] : {std::pair{&by_epoch, 1}, std::pair{&by_seconds, 5}})
      *plot += fmt::format(
          "{}'{}' skip 1 using {}:($3*100):($4*100) with filledcurves lc {} notitle, '{}' skip 1 "
          "using {}:($2*100) with linespoints lc {} title '{}'",
          sep, file, x, i + 1, file, x, i + 1, specs[i].label);
  }
  const std::string head = fmt::format(
      "set terminal pngcairo size 1000,600 noenhanced\nset datafile separator ','\nset key bottom right\nset grid\n"
      "set style fill transparent solid 0.2 noborder\nset ylabel 'test accuracy (%)'\nset title '{} on {}: mean over "
      "seeds, min to max shaded'\nset arrow from graph 0, first {} to graph 1, first {} nohead dashtype 2\n",
      c.net, c.data.name, 100 * c.target_accuracy, 100 * c.target_accuracy);
  draw_with_gnuplot(out.string(), "accuracy_vs_epoch.gp",
                    "# edit and re-run: gnuplot accuracy_vs_epoch.gp\n" + head +
                        "set output 'accuracy_vs_epoch.png'\nset xlabel 'epoch'\n" + by_epoch + "\n");
  draw_with_gnuplot(out.string(), "accuracy_vs_seconds.gp",
                    "# edit and re-run: gnuplot accuracy_vs_seconds.gp\n" + head +
                        "set output 'accuracy_vs_seconds.png'\nset xlabel 'training seconds'\n" + by_seconds + "\n");
}

// The datasets of a comparison's runs, each loaded once: runs of other rules or seeds ask for the same
// images (the seed only changes them through the validation split). Thread-safe, for packed runs.
class DatasetCache {
 public:
  std::shared_ptr<const DataSplits> get(const DataRequest& r) {
    const std::string key = fmt::format("{}\n{}\n{}\n{}\n{}\n{}", r.name, r.data_dir, r.validation, r.train_limit,
                                        r.test_limit, r.validation > 0 ? r.seed : 0);
    std::lock_guard lock(mutex_);
    std::shared_ptr<const DataSplits>& data = loaded_[key];
    if (!data) data = std::make_shared<const DataSplits>(load_dataset(r));
    return data;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const DataSplits>> loaded_;
};

// One run of the comparison that has no record yet.
struct PendingRun {
  const RuleSpec* spec = nullptr;
  int seed = 0;
  fs::path folder;
};

struct RunOutcome {
  std::optional<RunRecord> record;  // empty: stopped by a signal (its checkpoint is kept)
  int stop_signal = 0;
};

// Trains one run into its folder and writes its run.json. A checkpoint of a stopped run is resumed; one
// written after the last epoch (a run killed before its run.json) holds no more to train, and the run
// starts again.
RunOutcome train_run(const TrainFlags& comparison, const PendingRun& run, bool packed, DatasetCache& datasets) {
  TrainFlags f = flags_for(comparison, *run.spec, run.seed);
  if (packed) f.no_progress = true;  // a progress bar per run would garble the terminal
  TrainConfig c = merge_train_flags(f);
  c.checkpoint.clear();
  const fs::path checkpoint = run.folder / "checkpoint.bin";
  if (fs::exists(checkpoint) &&
      json_field<int>(read_checkpoint_record(checkpoint.string()), "epoch", checkpoint.string()) >= c.epochs)
    fs::remove_all(run.folder);
  c.resume = fs::exists(checkpoint) ? checkpoint.string() : "";
  RunRecord record;
  try {
    const TrainSummary summary = train_with_config(c, f, run.folder, datasets.get(c.data));
    if (summary.interrupted) return {std::nullopt, summary.stop_signal};
    record = record_of(run.spec->label, run.seed, summary);
  } catch (const DivergedError& e) {  // a result of the comparison, not a failure of it
    spdlog::warn("{} seed {}: {}", run.spec->label, run.seed, e.what());
    TrainSummary partial;
    summarise_epochs(partial, e.completed, c.target_accuracy);
    record = record_of(run.spec->label, run.seed, partial);
    record.diverged_epoch = e.epoch;
  }
  write_file_atomically((run.folder / "run.json").string(), to_json(record).dump(2) + "\n");
  return {std::move(record), 0};
}

// How many runs train at once: one on the CPU (each run uses every core); on a GPU --pack, or as many
// as fit in 80% of the free memory at the peak measured for a run of this comparison (at most 8).
int pack_size(const CompareFlags& flags, const DeviceChoice& device, double peak_mib_per_run, size_t pending) {
  if (device.device != Device::cuda) {
    if (flags.pack > 1) spdlog::warn("--pack {}: on the CPU runs train one after another, with every core", flags.pack);
    return 1;
  }
  const int most = static_cast<int>(std::max<size_t>(pending, 1));
  if (flags.pack > 0) return std::min(flags.pack, most);
  if (peak_mib_per_run <= 0) return 1;
  const double free_mib = static_cast<double>(cuda_free_memory_bytes(device.index)) / (1 << 20);
  const int fit = static_cast<int>(0.8 * free_mib / peak_mib_per_run);
  return std::clamp(fit, 1, std::min(8, most));
}

// Trains `runs`, up to `pack` at once: each on its own thread with its own backend, CUDA stream and
// memory account, so a run's results are those it has alone. An error in one run lets the started runs
// end, starts no more, and is rethrown.
std::vector<RunOutcome> train_runs(const TrainFlags& comparison, const std::vector<PendingRun>& runs, int pack,
                                   DatasetCache& datasets, int& done, int total) {
  std::vector<RunOutcome> outcomes(runs.size());
  const auto announce = [&](const PendingRun& run) {
    spdlog::info("[{}/{}] {} seed {}{}", ++done, total, run.spec->label, run.seed,
                 fs::exists(run.folder / "checkpoint.bin") ? " (resumed)" : "");
  };
  if (pack <= 1) {
    for (size_t i = 0; i < runs.size(); ++i) {
      announce(runs[i]);
      outcomes[i] = train_run(comparison, runs[i], false, datasets);
      if (!outcomes[i].record) break;
    }
    return outcomes;
  }
  spdlog::info("training {} runs at once, one per CUDA stream", pack);
  std::mutex mutex;
  size_t next = 0;
  bool halt = false;
  std::exception_ptr error;
  const auto worker = [&] {
    const DeviceMemoryAccount account;  // this thread's runs report their own peak memory
    for (;;) {
      size_t i = 0;
      {
        std::lock_guard lock(mutex);
        if (halt || next == runs.size()) return;
        i = next++;
        announce(runs[i]);
      }
      try {
        outcomes[i] = train_run(comparison, runs[i], true, datasets);
        std::lock_guard lock(mutex);
        if (outcomes[i].record)
          spdlog::info("{} seed {}: finished, best test accuracy {:.2f}%", runs[i].spec->label, runs[i].seed,
                       100 * outcomes[i].record->best);
        else
          halt = true;
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
        halt = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < pack; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  return outcomes;
}

// The [compare] table of the experiment file, where the command line left its settings unset.
void apply_comparison_file(CompareFlags& flags) {
  if (flags.train.config.empty()) return;
  if (!flags.preset.empty()) fail("--preset and --config: a comparison comes from one or the other");
  const ComparisonConfig file = load_train_config(flags.train.config).comparison;
  if (flags.rules.empty()) flags.rules = file.rules;
  if (flags.seeds <= 0) flags.seeds = file.seeds;
  if (flags.out.empty()) flags.out = file.out;
  if (flags.pack < 0) flags.pack = file.pack;
}

}  // namespace

int run_compare(CompareFlags flags) {
  apply_comparison_file(flags);
  if (const ComparePreset* preset = apply_preset(flags); preset != nullptr && preset->reward_task)
    return run_reward_task_comparison(flags, *preset);
  if (flags.pack < 0) flags.pack = 0;
  if (flags.rules.empty())
    fail(
        "bioprop compare: name the rules (--rules bp fa=0.05 ...), a [compare] table in the --config file, or a "
        "--preset");
  if (flags.seeds <= 0) flags.seeds = 3;
  std::vector<RuleSpec> specs;
  for (const std::string& text : flags.rules) {
    specs.push_back(parse_rule_spec(text));
    for (size_t i = 0; i + 1 < specs.size(); ++i)
      if (specs[i].label == specs.back().label) fail("--rules: '{}' is named twice", text);
  }
  const TrainConfig base = merge_train_flags(flags.train);
  for (const RuleSpec& spec : specs) {  // every rule with its options is checked before the first run
    TrainConfig c = merge_train_flags(flags_for(flags.train, spec, static_cast<int>(base.seed)));
    make_rule(c.rule, c.rule_options);
  }
  const fs::path out = flags.out.empty() ? fs::path("comparisons") /
                                               fmt::format("{}-{}", fs::path(base.net).stem().string(), base.data.name)
                                         : fs::path(flags.out);
  fs::create_directories(out);
  const DeviceChoice choice = choose_device(base.device);
  const std::string& device = choice.description;
  spdlog::info("comparison in {}: {} rule(s) x {} seed(s), at most {} epochs each", out.string(), specs.size(),
               flags.seeds, base.epochs);
  const StopOnSignals stop_on_signals;
  DatasetCache datasets;
  std::map<std::string, std::map<int, RunRecord>> by_seed;
  std::vector<PendingRun> pending;
  double peak_mib = 0;  // the largest peak of a finished run: how many runs fit at once
  const int total = static_cast<int>(specs.size()) * flags.seeds;
  int done = 0;
  for (const RuleSpec& spec : specs)
    for (int s = 0; s < flags.seeds; ++s) {
      const int seed = static_cast<int>(base.seed) + s;
      const fs::path folder = out / "runs" / folder_name(spec.label) / fmt::format("seed{}", seed);
      if (!fs::exists(folder / "run.json")) {
        pending.push_back({&spec, seed, folder});
        continue;
      }
      spdlog::info("[{}/{}] {} seed {}: finished before, kept", ++done, total, spec.label, seed);
      const RunRecord& kept = by_seed[spec.label][seed] = read_record(folder / "run.json");
      peak_mib = std::max(peak_mib, kept.peak_device_mib);
    }
  // Without a measured peak, the first run trains alone and measures it for the others.
  const size_t alone = choice.device == Device::cuda && flags.pack == 0 && peak_mib <= 0 && !pending.empty() ? 1 : 0;
  std::vector<RunOutcome> outcomes =
      train_runs(flags.train, {pending.begin(), pending.begin() + alone}, 1, datasets, done, total);
  if (alone == 0 || outcomes.front().record) {
    if (alone == 1) peak_mib = outcomes.front().record->peak_device_mib;
    const std::vector<PendingRun> rest(pending.begin() + alone, pending.end());
    for (RunOutcome& o :
         train_runs(flags.train, rest, pack_size(flags, choice, peak_mib, rest.size()), datasets, done, total))
      outcomes.push_back(std::move(o));
  }
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (!outcomes[i].record) {
      spdlog::warn("comparison stopped in {} seed {}; run the same command again to continue (finished runs are kept)",
                   pending[i].spec->label, pending[i].seed);
      return outcomes[i].stop_signal > 0 ? 128 + outcomes[i].stop_signal : 1;
    }
    by_seed[pending[i].spec->label][pending[i].seed] = *outcomes[i].record;
  }
  std::map<std::string, std::vector<RunRecord>> runs;
  for (auto& [label, seeds] : by_seed)
    for (auto& [seed, record] : seeds) runs[label].push_back(record);
  write_tables(out, specs, runs, base, device);
  write_curves_and_plots(out, specs, runs, base);
  spdlog::info("summary: {}", (out / "summary.md").string());
  return 0;
}

}  // namespace bioprop
