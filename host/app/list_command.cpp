#include <fmt/format.h>

#include <filesystem>

#include "app/commands.hpp"
#include "app/compare_presets.hpp"
#include "bioprop/builtin_nets.hpp"

namespace bioprop {

int run_list() {
  fmt::print("rules:\n");
  for (const RuleInfo& r : registered_rules()) fmt::print("  {:<14} {}\n", r.name, r.description);
  fmt::print("nets (--net NAME, or --net path/to/net.toml):\n");
  for (const BuiltinNet& n : builtin_nets())
    fmt::print("  {:<14} {}\n", n.name, net_description({n.name, "built-in net '" + n.name + "'", n.toml}));
  fmt::print("datasets (--dataset NAME [--data-dir DIR]):\n");
  for (const DatasetInfo& d : known_datasets())
    fmt::print("  {:<14} {}\n  {:<14} default folder {} ({})\n", d.name, d.description, "", d.default_dir,
               std::filesystem::exists(d.default_dir) ? "present" : "absent");
  fmt::print("comparisons (bioprop compare --preset NAME [--tiny]):\n");
  for (const ComparePreset& p : compare_presets())
    fmt::print("  {:<20} {}; {} seeds{}\n", p.name, p.description, p.seeds,
               p.reward_task ? "" : fmt::format(" x {} epochs", p.epochs));
  return 0;
}

}  // namespace bioprop
