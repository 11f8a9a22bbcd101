// The reward-amount task (Konishi et al. 2023) on a small scale: the paper's qualitative results hold.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>

#include "bioprop/reward_task.hpp"

namespace bioprop {
namespace {

double tail_error(const LearningCurve& c, size_t blocks = 5) {
  return std::accumulate(c.block_error.end() - static_cast<long>(blocks), c.block_error.end(), 0.0) /
         static_cast<double>(blocks);
}

const LearningCurve& curve(const std::vector<LearningCurve>& curves, const std::string& rule) {
  for (const auto& c : curves)
    if (c.rule == rule) return c;
  throw std::runtime_error("no curve for " + rule);
}

RewardTaskSettings small_task() {
  RewardTaskSettings s;
  s.phase_trials = 300;
  s.seeds = 3;
  return s;
}

TEST(RewardTask, BackpropFaAndFaExLearnWhileElmAndWpLearnWorse) {
  auto backend = make_cpu_backend();
  const auto curves = run_reward_task(small_task(), *backend);
  ASSERT_EQ(curves.size(), 5u);
  const double good =
      std::max({tail_error(curve(curves, "bp")), tail_error(curve(curves, "fa")), tail_error(curve(curves, "fa_ex"))});
  for (const char* rule : {"bp", "fa", "fa_ex"}) {
    const auto& c = curve(curves, rule);
    EXPECT_LT(tail_error(c), 0.2 * c.block_error.front()) << rule << " learns";
    EXPECT_LT(tail_error(c), 0.02) << rule;
  }
  for (const char* rule : {"elm", "wp"})
    EXPECT_GT(tail_error(curve(curves, rule)), 2 * good) << rule << " learns worse";
  // New odours (second phase) raise the error, then it is learned again.
  const auto& fa_ex = curve(curves, "fa_ex");
  const size_t switch_block = 300 / 20;
  EXPECT_GT(fa_ex.block_error[switch_block], 5 * fa_ex.block_error[switch_block - 1]);
}

TEST(RewardTask, FaExKeepsLearningUnderRulePerturbationAndNoise) {
  auto backend = make_cpu_backend();
  RewardTaskSettings s = small_task();
  s.rules = {"fa_ex"};
  s.update_noise = 1.0f;
  s.noise.signal = 0.1f;
  s.noise.activity = 0.05f;
  const auto curves = run_reward_task(s, *backend);
  const auto& c = curves.front();
  EXPECT_LT(tail_error(c), 0.2 * c.block_error.front());
}

TEST(RewardTask, WritesTheLearningCurves) {
  auto backend = make_cpu_backend();
  RewardTaskSettings s = small_task();
  s.phase_trials = 40;
  s.seeds = 1;
  s.rules = {"bp", "fa"};
  const auto curves = run_reward_task(s, *backend);
  const std::string folder = ::testing::TempDir() + "bioprop-reward-task";
  write_learning_curves(curves, s, folder);
  std::ifstream csv(folder + "/learning_curves.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header, "trial,phase,bp,fa");
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 4);  // 80 trials in blocks of 20
  EXPECT_TRUE(std::filesystem::exists(folder + "/learning_curves.gp"));
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace bioprop
