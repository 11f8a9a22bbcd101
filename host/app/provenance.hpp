#pragma once
// What a comparison's summary says about where it came from: the time and the code.
#include <ctime>
#include <string>

namespace bioprop {

// The commit bioprop was built from (`git describe --always --dirty`; "unknown" outside a checkout).
// Defined in a file cmake/SourceCommit.cmake writes at build time.
const char* source_commit();

// "2026-11-30 21:40 UTC".
inline std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return text;
}

}  // namespace bioprop
