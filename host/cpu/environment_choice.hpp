#pragma once
// A choice among named alternatives read from an environment variable (BIOPROP_CPU_GEMM,
// BIOPROP_CPU_CONVOLUTION): unset means the first; any other name is an Error that names the variable, the
// value and the alternatives.
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>

#include "bioprop/error.hpp"

namespace bioprop {

template <typename Choice>
Choice choice_from_environment(const char* variable, std::initializer_list<std::pair<const char*, Choice>> choices) {
  const char* value = std::getenv(variable);
  const std::string name = value ? value : choices.begin()->first;
  std::string expected;
  size_t index = 0;
  for (const auto& [choice_name, choice] : choices) {
    if (name == choice_name) return choice;
    expected += (index == 0 ? "" : index + 1 == choices.size() ? " or " : ", ") + std::string(choice_name);
    ++index;
  }
  fail("{}='{}': expected {}", variable, name, expected);
}

}  // namespace bioprop
