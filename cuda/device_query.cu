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

}  // namespace bioprop
