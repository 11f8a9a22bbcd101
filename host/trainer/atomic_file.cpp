#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bioprop/error.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write {}", temporary);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) fail("writing {} failed (disk full?)", temporary);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) fail("cannot rename {} to {}: {}", temporary, path, error.message());
}

}  // namespace bioprop
