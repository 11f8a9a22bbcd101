#pragma once
// The message of the bioprop::Error a call throws, or "no error": for tests of error messages.
#include <functional>
#include <string>

#include "bioprop/error.hpp"

namespace bioprop::testing {

inline std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace bioprop::testing
