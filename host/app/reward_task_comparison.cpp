// `bioprop compare --preset reward-task`: the rules of Konishi et al. (2023) on their reward-amount task,
// seed by seed, reported as every comparison is (summary.md with mean ± sd over seeds, raw CSV, a plot with
// the spread shaded). The task learns trial by trial, so its landmarks are squared errors and trials to a
// criterion, not epochs to an accuracy.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "app/compare_presets.hpp"
#include "app/provenance.hpp"
#include "app/seed_statistics.hpp"
#include "bioprop/error.hpp"
#include "bioprop/plotting.hpp"
#include "bioprop/reward_task.hpp"

namespace bioprop {

namespace {

namespace fs = std::filesystem;

constexpr double criterion = 0.02;  // squared error of the predicted reward (amounts in [0, 1])

// One rule's landmarks in one seed's curve.
struct Landmarks {
  double end_of_phase_one = 0, after_new_odours = 0, last = 0;
  int trials_to_criterion = -1;  // -1: not within phase one
};

Landmarks landmarks_of(const std::vector<double>& blocks, const RewardTaskSettings& s) {
  const size_t end = static_cast<size_t>(s.phase_trials / s.block) - 1;
  Landmarks l{blocks[end], blocks[end + 1], blocks.back()};
  for (size_t b = 0; b <= end && l.trials_to_criterion < 0; ++b)
    if (blocks[b] <= criterion) l.trials_to_criterion = static_cast<int>(b + 1) * s.block;
  return l;
}

void write_plot(const fs::path& out, const std::vector<std::string>& rules,
                const std::map<std::string, std::vector<std::vector<double>>>& curves, const RewardTaskSettings& s) {
  fs::create_directories(out / "curves");
  std::string plot;
  for (size_t i = 0; i < rules.size(); ++i) {
    const auto& seeds = curves.at(rules[i]);
    std::string csv = "trial,mean_squared_error,min_squared_error,max_squared_error\n";
    for (size_t b = 0; b < seeds.front().size(); ++b) {
      std::vector<double> values;
      for (const auto& curve : seeds) values.push_back(curve[b]);
      csv +=
          fmt::format("{},{:.6g},{:.6g},{:.6g}\n", (b + 1) * static_cast<size_t>(s.block), stats_of(values).mean,
                      *std::min_element(values.begin(), values.end()), *std::max_element(values.begin(), values.end()));
    }
    const std::string file = fmt::format("curves/{}.csv", i + 1);
    write_file_atomically((out / file).string(), csv);
    plot += fmt::format(
        "{}'{}' skip 1 using 1:3:4 with filledcurves lc {} notitle, '{}' skip 1 using 1:2 with linespoints lc {} "
        "title '{}'",
        i == 0 ? "plot " : ", ", file, i + 1, file, i + 1, rules[i]);
  }
  draw_with_gnuplot(out.string(), "learning_curves.gp",
                    fmt::format("# edit and re-run: gnuplot learning_curves.gp\nset terminal pngcairo size 1000,600 "
                                "noenhanced\nset output 'learning_curves.png'\nset datafile separator ','\nset key "
                                "top right\nset grid\nset logscale y\nset style fill transparent solid 0.2 noborder\n"
                                "set xlabel 'trial'\nset ylabel 'squared error of the predicted reward'\nset title "
                                "'Reward-amount task (after Konishi et al. 2023): mean over seeds, min to max "
                                "shaded; new odours from trial {}'\nset arrow from {}, graph 0 to {}, graph 1 nohead "
                                "dashtype 2\n",
                                s.phase_trials, s.phase_trials, s.phase_trials) +
                        plot + "\n");
}

}  // namespace

int run_reward_task_comparison(const CompareFlags& flags, const ComparePreset& preset) {
  RewardTaskSettings s;
  s.rules = flags.rules.empty() ? preset.rules : flags.rules;
  for (const std::string& rule : s.rules)
    if (rule.find_first_of("+=") != std::string::npos)
      fail("--rules '{}': the reward task takes bare rule names (its learning rates are the task's: {} and {} for wp)",
           rule, s.learning_rate, s.wp_learning_rate);
  if (flags.tiny) s.phase_trials = 100;
  s.seeds = 1;  // one animal per seed: the spread is over seeds
  const int seeds = flags.seeds > 0 ? flags.seeds : (flags.tiny ? 2 : preset.seeds);
  const uint64_t first_seed = flags.train.seed ? flags.train.overrides.seed : 1;
  const fs::path out = flags.out.empty() ? fs::path("comparisons/reward-task") : fs::path(flags.out);
  fs::create_directories(out);
  spdlog::info("reward-amount task in {}: rules {} x {} seed(s), {} trials per phase", out.string(),
               fmt::join(s.rules, ", "), seeds, s.phase_trials);

  auto backend = make_cpu_backend();  // one unit of output, batch 1: the CPU is the right device
  std::map<std::string, std::vector<std::vector<double>>> curves;
  std::string runs_csv = "rule,seed,end_of_phase_1_error,after_new_odours_error,last_error,trials_to_criterion\n";
  std::string blocks_csv = "rule,seed,trial,phase,squared_error\n";
  std::map<std::string, std::vector<Landmarks>> landmarks;
  for (int k = 0; k < seeds; ++k) {
    s.seed = first_seed + static_cast<uint64_t>(k);
    for (const LearningCurve& c : run_reward_task(s, *backend)) {
      curves[c.rule].push_back(c.block_error);
      const Landmarks l = landmarks_of(c.block_error, s);
      landmarks[c.rule].push_back(l);
      runs_csv += fmt::format("{},{},{:.6g},{:.6g},{:.6g},{}\n", c.rule, s.seed, l.end_of_phase_one, l.after_new_odours,
                              l.last, l.trials_to_criterion > 0 ? std::to_string(l.trials_to_criterion) : "");
      for (size_t b = 0; b < c.block_error.size(); ++b) {
        const size_t trial = (b + 1) * static_cast<size_t>(s.block);
        blocks_csv += fmt::format("{},{},{},{},{:.6g}\n", c.rule, s.seed, trial,
                                  trial <= static_cast<size_t>(s.phase_trials) ? 1 : 2, c.block_error[b]);
      }
    }
  }
  write_file_atomically((out / "runs.csv").string(), runs_csv);
  write_file_atomically((out / "blocks.csv").string(), blocks_csv);

  std::string md = fmt::format(
      "# Comparison: reward-amount task after Konishi et al. (2023)\n\n"
      "{}; device: {}; bioprop {}.\n{} odours, then {} new ones from trial {}; {} trials per phase, blocks of {}, "
      "learning rate {} ({} for wp); "
      "{} seed(s) from seed {} (one animal each). Squared error of the predicted reward, mean ± standard deviation "
      "over seeds; trials to criterion: the first block of phase 1 with error <= {} (a seed that never got there "
      "is counted \"not in {}\").\n\n"
      "| rule | seeds | trials to criterion | error, end of phase 1 | error, first block of new odours | error, "
      "last block |\n| --- | --- | --- | --- | --- | --- |\n",
      utc_now(), backend->name(), source_commit(), s.amounts.size(), s.new_amounts.size(), s.phase_trials + 1,
      s.phase_trials, s.block, s.learning_rate, s.wp_learning_rate, seeds, first_seed, criterion, s.phase_trials);
  for (const std::string& rule : s.rules) {
    std::vector<double> trials, end, after, last;
    for (const Landmarks& l : landmarks.at(rule)) {
      if (l.trials_to_criterion > 0) trials.push_back(l.trials_to_criterion);
      end.push_back(l.end_of_phase_one), after.push_back(l.after_new_odours), last.push_back(l.last);
    }
    const std::string to_criterion = to_target(stats_of(trials), seeds, s.phase_trials, "{:.0f}");
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", rule, seeds, to_criterion, mean_sd(stats_of(end), "{:.4f}"),
                      mean_sd(stats_of(after), "{:.4f}"), mean_sd(stats_of(last), "{:.4f}"));
    spdlog::info("{}: {} trials to error {}, last block error {}", rule, to_criterion, criterion,
                 mean_sd(stats_of(last), "{:.4f}"));
  }
  md +=
      "\nRaw data: runs.csv (one row per rule and seed), blocks.csv (every block's error); plot: learning_curves.png "
      "(mean over seeds, min to max shaded). Task settings: docs/reward_task.md.\n";
  write_file_atomically((out / "summary.md").string(), md);
  write_plot(out, s.rules, curves, s);
  spdlog::info("summary: {}", (out / "summary.md").string());
  return 0;
}

}  // namespace bioprop
