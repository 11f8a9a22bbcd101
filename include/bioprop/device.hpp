#pragma once
// Which device a run uses. `--device auto|cpu|cuda[:N]`.
#include <string>

#include <memory>

#include "bioprop/backend.hpp"
#include "bioprop/tensor.hpp"

namespace bioprop {

struct DeviceChoice {
  Device device = Device::cpu;
  int index = 0;
  std::string description;  // what the run prints, e.g. "cpu (no CUDA device found)"
};

// The CUDA devices visible, and why none are when the driver could not even be asked (a driver older
// than the runtime, a broken installation): `error` is empty when the answer is simply "no GPU".
struct CudaDevices {
  int count = 0;
  std::string error;
};
CudaDevices cuda_devices();
// Number of CUDA devices visible (0 when there is no driver or no GPU).
int cuda_device_count();
std::string cuda_device_name(int index);
// Memory free on device `index` now, in bytes (0 when the driver cannot say).
size_t cuda_free_memory_bytes(int index);

// A device's theoretical peaks, for the roofline fractions of benchmarks (0 where unknown):
// DRAM bandwidth from the memory clock and bus width, FP32 FLOP/s from SMs x FP32 lanes x clock x 2.
struct DevicePeaks {
  double memory_gb_per_s = 0.0;
  double fp32_gflop_per_s = 0.0;
};
DevicePeaks cuda_device_peaks(int index);

// The CUDA backend on device `index`; `tf32` lets cuBLAS use TF32 tensor cores for FP32 GEMMs.
std::unique_ptr<Backend> make_cuda_backend(int index, bool tf32 = false);
// The backend for a resolved device choice.
std::unique_ptr<Backend> make_backend(const DeviceChoice& choice, bool tf32 = false);

// Parses and resolves a --device value. Throws Error for a malformed value, or for cuda when this
// build cannot run on it.
DeviceChoice choose_device(const std::string& request);

}  // namespace bioprop
