// Launch checks and the BIOPROP_SYNC_CHECK=1 debug mode: every kernel launch and every cuBLAS / cuDNN
// call is followed by a synchronisation and a check, so an asynchronous fault is reported at the call
// that caused it instead of at some later synchronisation.
#include "sync_check.hpp"

#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>

#include "bioprop/cuda_check.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

bool sync_check_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("BIOPROP_SYNC_CHECK");
    return value != nullptr && std::strcmp(value, "0") != 0 && value[0] != '\0';
  }();
  return enabled;
}

void check_launch(const char* kernel, cudaStream_t stream) {
  if (const cudaError_t error = cudaGetLastError(); error != cudaSuccess)
    fail("CUDA error launching kernel {}: {}", kernel, cudaGetErrorString(error));
  if (!sync_check_enabled()) return;
  if (const cudaError_t error = cudaStreamSynchronize(stream); error != cudaSuccess)
    fail("CUDA error in kernel {} (BIOPROP_SYNC_CHECK: synchronised right after its launch): {}", kernel,
         cudaGetErrorString(error));
}

void check_after_library_call(const char* call, const char* file, int line) {
  if (!sync_check_enabled()) return;
  if (const cudaError_t error = cudaDeviceSynchronize(); error != cudaSuccess)
    fail("CUDA error in {} ({}:{}; BIOPROP_SYNC_CHECK: synchronised right after the call): {}", call, file, line,
         cudaGetErrorString(error));
}

}  // namespace bioprop
