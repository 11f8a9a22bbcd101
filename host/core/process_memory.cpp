// Peak resident memory from /proc/self (Linux 4.0 and later allow resetting the peak).
#include "bioprop/process_memory.hpp"

#include <fstream>
#include <string>

namespace bioprop {

bool reset_peak_resident_memory() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return static_cast<bool>(clear_refs);
}

size_t peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmHWM:   1234 kB"
  return 0;
}

}  // namespace bioprop
