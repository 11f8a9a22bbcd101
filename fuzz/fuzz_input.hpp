#pragma once
// What every fuzzer shares: the input goes to a file (the readers take paths), the reader runs, and a
// bioprop::Error is the one accepted way to refuse it. Any other exception escapes to libFuzzer, which
// reports it as a crash, as it does a sanitizer's finding, a leak or a too-large allocation.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "bioprop/error.hpp"

namespace bioprop::fuzz {

// A folder of this process's own under the temporary directory.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path folder = [] {
    auto f = std::filesystem::temp_directory_path() / ("bioprop-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(f);
    return f;
  }();
  return folder;
}

inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::filesystem::path path = scratch() / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path.string();
}

// Quiet logs, and a memory budget far below libFuzzer's limit: a net or tensor that needs more is
// refused by bioprop's own checks, which is what the fuzzers test.
inline void initialise() {
  spdlog::set_level(spdlog::level::off);
  setenv("BIOPROP_MEMORY_LIMIT_MIB", "256", 1);
  setenv("OMP_NUM_THREADS", "1", 1);
}

template <typename Read>
void expect_clean(Read&& read) {
  try {
    read();
  } catch (const Error&) {  // a clear refusal: fine
  }
}

}  // namespace bioprop::fuzz
