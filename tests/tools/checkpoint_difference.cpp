// Prints the largest difference between the parameters of two checkpoints, relative to the largest value of
// each parameter, over every parameter both hold by the same name: the data-parallel equivalence test's measure.
// Usage: checkpoint_difference A.bin B.bin
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "bioprop/error.hpp"
#include "bioprop/trainer.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: checkpoint_difference A.bin B.bin\n");
    return 2;
  }
  try {
    std::map<std::string, bioprop::Tensor> first;
    for (auto& [name, tensor] : bioprop::read_checkpoint_tensors(argv[1])) first[name] = std::move(tensor);
    double largest = 0;
    int compared = 0;
    for (const auto& [name, b] : bioprop::read_checkpoint_tensors(argv[2])) {
      const auto found = first.find(name);
      if (found == first.end() || found->second.numel() != b.numel()) continue;
      const bioprop::Tensor& a = found->second;
      double scale = 1e-12, difference = 0;
      for (size_t i = 0; i < a.numel(); ++i) {
        scale = std::max(scale, std::abs(static_cast<double>(a.at(i))));
        difference = std::max(difference, std::abs(static_cast<double>(a.at(i)) - b.at(i)));
      }
      if (difference / scale > 1e-4)
        std::fprintf(stderr, "%s: relative difference %.3g\n", name.c_str(), difference / scale);
      largest = std::max(largest, difference / scale);
      ++compared;
    }
    std::printf("%d parameters, largest relative difference %.3g\n", compared, largest);
    return compared > 0 ? 0 : 1;
  } catch (const bioprop::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
