#pragma once
// The rules that ship with bioprop, one factory per rule file. Listed explicitly (not by static
// registration objects) so a static library link cannot silently drop a rule.
#include "bioprop/rule.hpp"

namespace bioprop {

RuleInfo backprop_rule_info();
RuleInfo brainprop_rule_info();
RuleInfo qagrel_rule_info();

}  // namespace bioprop
