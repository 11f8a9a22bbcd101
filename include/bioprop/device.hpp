#pragma once
// Which device a run uses. `--device auto|cpu|cuda[:N]`.
#include <string>

#include "bioprop/tensor.hpp"

namespace bioprop {

struct DeviceChoice {
  Device device = Device::cpu;
  int index = 0;
  std::string description;  // what the run prints, e.g. "cpu (no CUDA device found)"
};

// Number of CUDA devices visible (0 when there is no driver or no GPU).
int cuda_device_count();
std::string cuda_device_name(int index);

// Parses and resolves a --device value. Throws Error for a malformed value, or for cuda when this
// build cannot run on it.
DeviceChoice choose_device(const std::string& request);

}  // namespace bioprop
