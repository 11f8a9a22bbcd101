// Proof that AddressSanitizer sees a kernel write past the end of a device tensor (the memcheck that
// compute-sanitizer runs on a GPU) when the caching allocator is bypassed (BIOPROP_NO_ALLOCATOR_CACHE=1:
// every tensor is its own exact-size allocation; a cached block rounded up to 512 bytes would hide
// it). A fill of 11 floats into a 10-float tensor on the emulated device. Built only with
// BIOPROP_SANITIZE=address.
#include <cstdio>

#include "bioprop/device.hpp"
#include "bioprop/tensor.hpp"
#include "kernels/launchers.hpp"

int main() {
  auto gpu = bioprop::make_cuda_backend(0);
  bioprop::Tensor x({10}, bioprop::Device::cuda);
  bioprop::kernels::fill(x.data(), 1.0f, 11, nullptr);  // one float too many
  gpu->synchronize();
  cudaDeviceSynchronize();
  std::printf("the overrun went unseen\n");
  return 0;
}
