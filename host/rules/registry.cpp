#include <algorithm>

#include "bioprop/error.hpp"
#include "builtin_rules.hpp"

namespace bioprop {

namespace {
std::vector<RuleInfo>& registry() {
  static std::vector<RuleInfo> rules = {backprop_rule_info(),
                                        fa_rule_info(),
                                        dfa_rule_info(),
                                        sign_symmetry_rule_info(),
                                        fa_ex_rule_info(),
                                        elm_rule_info(),
                                        wp_rule_info(),
                                        np_rule_info(),
                                        brainprop_rule_info(),
                                        qagrel_rule_info(),
                                        learned_feedback_rule_info(),
                                        lansdell_rule_info(),
                                        tp_rule_info(),
                                        dtp_rule_info(),
                                        dtp_parallel_rule_info(),
                                        sdtp_rule_info(),
                                        ao_sdtp_rule_info(),
                                        dendrites_rule_info()};
  return rules;
}
}  // namespace

void register_rule(RuleInfo info) { registry().push_back(std::move(info)); }

const std::vector<RuleInfo>& registered_rules() { return registry(); }

std::unique_ptr<Rule> make_rule(const std::string& name, Options& options) {
  const auto& rules = registry();
  auto it = std::find_if(rules.begin(), rules.end(), [&](const RuleInfo& r) { return r.name == name; });
  if (it == rules.end()) {
    std::string known;
    for (const auto& r : rules) known += (known.empty() ? "" : ", ") + r.name;
    fail("unknown rule '{}' (known rules: {})", name, known);
  }
  auto rule = it->make(options);
  options.check_all_used();
  return rule;
}

}  // namespace bioprop
