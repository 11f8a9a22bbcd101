#pragma once
// BIOPROP_CUDA_CHECK: the one error check for CUDA runtime calls. Throws bioprop::Error naming the
// call, the file and line, and CUDA's own message.
#include <cuda_runtime_api.h>

#include "bioprop/error.hpp"

#define BIOPROP_CUDA_CHECK(call)                                                                      \
  do {                                                                                                \
    const cudaError_t bioprop_status_ = (call);                                                      \
    if (bioprop_status_ != cudaSuccess)                                                               \
      ::bioprop::fail("CUDA error in {} ({}:{}): {}", #call, __FILE__, __LINE__,                      \
                      cudaGetErrorString(bioprop_status_));                                           \
  } while (0)
