#pragma once
// The error checks for cuBLAS, cuDNN and NCCL calls (one macro per API), for host-compiled CUDA code. With
// BIOPROP_SYNC_CHECK=1 each call is also followed by a device synchronisation and a check.
#include <cublas_v2.h>
#include <cudnn.h>
#include <nccl.h>

#include "bioprop/cuda_check.hpp"
#include "bioprop/error.hpp"
#include "sync_check.hpp"

#define BIOPROP_CUBLAS_CHECK(call)                                                 \
  do {                                                                             \
    const cublasStatus_t bioprop_status_ = (call);                                 \
    if (bioprop_status_ != CUBLAS_STATUS_SUCCESS)                                  \
      ::bioprop::fail("cuBLAS error in {} ({}:{}): {}", #call, __FILE__, __LINE__, \
                      cublasGetStatusString(bioprop_status_));                     \
    ::bioprop::check_after_library_call(#call, __FILE__, __LINE__);                \
  } while (0)

#define BIOPROP_CUDNN_CHECK(call)                                                 \
  do {                                                                            \
    const cudnnStatus_t bioprop_status_ = (call);                                 \
    if (bioprop_status_ != CUDNN_STATUS_SUCCESS)                                  \
      ::bioprop::fail("cuDNN error in {} ({}:{}): {}", #call, __FILE__, __LINE__, \
                      cudnnGetErrorString(bioprop_status_));                      \
    ::bioprop::check_after_library_call(#call, __FILE__, __LINE__);               \
  } while (0)

#define BIOPROP_NCCL_CHECK(call)                                                                                       \
  do {                                                                                                                 \
    const ncclResult_t bioprop_status_ = (call);                                                                       \
    if (bioprop_status_ != ncclSuccess)                                                                                \
      ::bioprop::fail("NCCL error in {} ({}:{}): {}", #call, __FILE__, __LINE__, ncclGetErrorString(bioprop_status_)); \
    ::bioprop::check_after_library_call(#call, __FILE__, __LINE__);                                                    \
  } while (0)
