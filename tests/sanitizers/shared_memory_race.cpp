// Proof that ThreadSanitizer sees a shared-memory race inside an emulated block (the racecheck that
// compute-sanitizer runs on a GPU): each thread writes its slot, then reads its neighbour's. With the
// barrier between the two the kernel is correct; without it (argument "without-barrier") the read
// races with the neighbour's write, and TSan must report it. Built only with BIOPROP_SANITIZE=thread.
#include <cstdio>
#include <cstring>
#include <vector>

#include "bioprop/cuda_launch.hpp"

namespace {

template <bool barrier>
__global__ void rotate_through_shared(const float* in, float* out) {
  __shared__ float slots[64];
  const unsigned t = threadIdx.x;
  slots[t] = in[t];
  if (barrier) __syncthreads();
  out[t] = slots[(t + 1) % blockDim.x];
}

}  // namespace

int main(int argc, char** argv) {
  const bool barrier = !(argc > 1 && std::strcmp(argv[1], "without-barrier") == 0);
  std::vector<float> in(64), out(64);
  for (int i = 0; i < 64; ++i) in[static_cast<size_t>(i)] = static_cast<float>(i);
  if (barrier)
    bioprop::launch<rotate_through_shared<true>>(dim3(1), dim3(64), 0, nullptr, in.data(), out.data());
  else
    bioprop::launch<rotate_through_shared<false>>(dim3(1), dim3(64), 0, nullptr, in.data(), out.data());
  std::printf("out[0] = %g (%s barrier)\n", static_cast<double>(out[0]), barrier ? "with" : "without");
  return 0;
}
