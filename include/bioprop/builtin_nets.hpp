#pragma once
// The nets of configs/nets/*.toml, compiled into the binary (cmake/EmbedConfigs.cmake).
#include <string>
#include <vector>

namespace bioprop {

struct BuiltinNet {
  std::string name;
  std::string toml;
};
const std::vector<BuiltinNet>& builtin_nets();

}  // namespace bioprop
