// Device discovery for --device auto. A machine without a GPU has no devices; a driver that cannot be
// asked is reported as such (not as "0 devices"), so tests and runs say why CUDA is unusable.
#include <cuda_runtime_api.h>

#include <fmt/format.h>

#include "bioprop/device.hpp"

namespace bioprop {

CudaDevices cuda_devices() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess) return {count, {}};
  cudaGetLastError();  // clear the error so later calls are not blamed for it
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  // No GPU, or no driver installed at all (version 0): a CPU machine, not a broken one.
  if (status == cudaErrorNoDevice || (status == cudaErrorInsufficientDriver && driver == 0)) return {0, {}};
  return {0, fmt::format("cudaGetDeviceCount failed: {} (driver supports CUDA {}.{}, runtime is {}.{})",
                         cudaGetErrorString(status), driver / 1000, driver % 1000 / 10, runtime / 1000,
                         runtime % 1000 / 10)};
}

int cuda_device_count() { return cuda_devices().count; }

std::string cuda_device_name(int index) {
  cudaDeviceProp properties{};
  if (cudaGetDeviceProperties(&properties, index) != cudaSuccess) return "unknown CUDA device";
  return properties.name;
}

size_t cuda_free_memory_bytes(int index) {  // makes `index` the calling thread's current device
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaSetDevice(index) != cudaSuccess || cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return free_bytes;
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
