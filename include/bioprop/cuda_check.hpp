#pragma once
// BIOPROP_CUDA_CHECK: the one error check for CUDA runtime calls. Throws bioprop::Error naming the
// call, the file and line, and CUDA's own message. (The message is formatted in host code: nvcc does
// not compile fmt's headers, so this header stays free of them.)
#include <cuda_runtime_api.h>

namespace bioprop {
[[noreturn]] void throw_cuda_error(const char* call, const char* file, int line, const char* message);
}

#define BIOPROP_CUDA_CHECK(call)                                                                   \
  do {                                                                                             \
    const cudaError_t bioprop_status_ = (call);                                                    \
    if (bioprop_status_ != cudaSuccess)                                                            \
      ::bioprop::throw_cuda_error(#call, __FILE__, __LINE__, cudaGetErrorString(bioprop_status_)); \
  } while (0)
