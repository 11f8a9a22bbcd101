// Device discovery for --device auto. Failing calls mean "no usable GPU", not an error.
#include <cuda_runtime_api.h>

#include "bioprop/device.hpp"

namespace bioprop {

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" status
    return 0;
  }
  return count;
}

std::string cuda_device_name(int index) {
  cudaDeviceProp properties{};
  if (cudaGetDeviceProperties(&properties, index) != cudaSuccess) return "unknown CUDA device";
  return properties.name;
}

namespace {
int attribute(cudaDeviceAttr which, int index) {
  int value = 0;
  if (cudaDeviceGetAttribute(&value, which, index) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return value;
}

// FP32 lanes per SM by compute capability (CUDA C Programming Guide, arithmetic instruction throughput).
int fp32_lanes_per_sm(int major, int minor) {
  if (major == 8 && minor == 0) return 64;  // A100
  if (major >= 8) return 128;               // other Ampere, Ada, Hopper, Blackwell
  if (major >= 6 && minor == 0) return 64;  // P100
  return major >= 7 ? 64 : 128;
}
}  // namespace

DevicePeaks cuda_device_peaks(int index) {
  DevicePeaks peaks;
  const double memory_khz = attribute(cudaDevAttrMemoryClockRate, index);
  const double bus_bits = attribute(cudaDevAttrGlobalMemoryBusWidth, index);
  peaks.memory_gb_per_s = 2.0 * memory_khz * 1e3 * (bus_bits / 8.0) * 1e-9;  // double data rate
  const double sms = attribute(cudaDevAttrMultiProcessorCount, index);
  const double clock_khz = attribute(cudaDevAttrClockRate, index);
  const int lanes = fp32_lanes_per_sm(attribute(cudaDevAttrComputeCapabilityMajor, index),
                                      attribute(cudaDevAttrComputeCapabilityMinor, index));
  peaks.fp32_gflop_per_s = sms * lanes * 2.0 * clock_khz * 1e3 * 1e-9;
  return peaks;
}

}  // namespace bioprop
