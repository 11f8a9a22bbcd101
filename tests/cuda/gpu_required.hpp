#pragma once
// Whether a CUDA test may skip for want of a device. It may not on the emulated device (there is always
// one), nor with BIOPROP_REQUIRE_GPU=1 (a GPU machine, where a skip would hide a broken driver).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "bioprop/device.hpp"

namespace bioprop {

inline bool gpu_required() {
#if defined(BIOPROP_EMULATED_DEVICE)
  return true;
#else
  const char* value = std::getenv("BIOPROP_REQUIRE_GPU");
  return value != nullptr && value[0] != '\0' && std::string(value) != "0";
#endif
}

}  // namespace bioprop

// Skips the test without a CUDA device, saying why (a driver error is named); fails instead when a
// GPU is required.
#define BIOPROP_SKIP_WITHOUT_GPU()                                                                        \
  do {                                                                                                    \
    const ::bioprop::CudaDevices bioprop_devices_ = ::bioprop::cuda_devices();                            \
    if (bioprop_devices_.count == 0) {                                                                    \
      const std::string bioprop_why_ =                                                                    \
          bioprop_devices_.error.empty() ? "no CUDA device" : "CUDA unusable: " + bioprop_devices_.error; \
      if (::bioprop::gpu_required()) FAIL() << bioprop_why_ << " (BIOPROP_REQUIRE_GPU)";                  \
      GTEST_SKIP() << bioprop_why_;                                                                       \
    }                                                                                                     \
  } while (0)
