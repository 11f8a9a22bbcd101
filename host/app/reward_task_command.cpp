#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "bioprop/reward_task.hpp"

namespace bioprop {

int run_reward_task_command(const RewardTaskSettings& settings, const std::string& folder) {
  auto backend = make_cpu_backend();
  spdlog::info("reward-amount task: {} + {} odours, {} trials per phase, {} seeds, rules {}", settings.amounts.size(),
               settings.new_amounts.size(), settings.phase_trials, settings.seeds, fmt::join(settings.rules, ", "));
  const auto curves = run_reward_task(settings, *backend);
  for (const LearningCurve& c : curves) {
    const size_t end_of_phase = static_cast<size_t>(settings.phase_trials / settings.block) - 1;
    spdlog::info("{:<6} squared error: first block {:.4f}, end of phase 1 {:.4f}, after new odours {:.4f}, last {:.4f}",
                 c.rule, c.block_error.front(), c.block_error[end_of_phase], c.block_error[end_of_phase + 1],
                 c.block_error.back());
  }
  const std::string png = write_learning_curves(curves, settings, folder);
  spdlog::info("learning curves: {}/learning_curves.csv{}", folder, png.empty() ? "" : ", " + png);
  return 0;
}

}  // namespace bioprop
