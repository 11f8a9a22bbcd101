#pragma once
// User-facing errors: a bad file, field or value. The message names what is wrong and where, so
// the command can print it and exit non-zero without a stack trace.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace bioprop {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws bioprop::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace bioprop
