#pragma once
// The rules that ship with bioprop, one factory per rule file. Listed explicitly (not by static
// registration objects) so a static library link cannot silently drop a rule.
#include "bioprop/rule.hpp"

namespace bioprop {

RuleInfo backprop_rule_info();
RuleInfo brainprop_rule_info();
RuleInfo qagrel_rule_info();
RuleInfo fa_rule_info();
RuleInfo dfa_rule_info();
RuleInfo sign_symmetry_rule_info();
RuleInfo fa_ex_rule_info();
RuleInfo elm_rule_info();
RuleInfo wp_rule_info();
RuleInfo np_rule_info();
RuleInfo learned_feedback_rule_info();
RuleInfo lansdell_rule_info();
RuleInfo tp_rule_info();
RuleInfo dtp_rule_info();
RuleInfo dtp_parallel_rule_info();
RuleInfo sdtp_rule_info();
RuleInfo ao_sdtp_rule_info();
RuleInfo dendrites_rule_info();

}  // namespace bioprop
