// The CUDA emulation itself: blocks, threads, barriers, shared memory, warp shuffles and atomics
// behave as the CUDA execution model says, so kernel tests under emulation mean something.
#include <gtest/gtest.h>

#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "bioprop/cuda_launch.hpp"

namespace {

// Reverses each block's slice through shared memory: wrong without the barrier between the phases.
__global__ void reverse_in_blocks(const int* in, int* out) {
  __shared__ int slice[64];
  const unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
  slice[t] = in[base + t];
  __syncthreads();
  out[base + t] = slice[blockDim.x - 1 - t];
}

// Warp sum with __shfl_down_sync; lane 0 of each warp adds its warp's sum to the total.
__global__ void warp_sums(const float* in, float* total) {
  float v = in[blockIdx.x * blockDim.x + threadIdx.x];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(offset));
  if (threadIdx.x % 32 == 0) atomicAdd(total, v);
}

// Half the threads return before the barrier: on a GPU a hang or undefined behaviour.
__global__ void barrier_not_reached_by_all(int* out) {
  if (threadIdx.x < 16) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

// Lane 0 of each warp leaves before the shuffle the others wait in.
__global__ void shuffle_not_reached_by_all(float* out) {
  if (threadIdx.x % 32 == 0) return;
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1.0f, 1u);
}

__global__ void record_indexes(int* out) {
  const unsigned block = blockIdx.y * gridDim.x + blockIdx.x;
  const unsigned thread = threadIdx.y * blockDim.x + threadIdx.x;
  out[block * blockDim.x * blockDim.y + thread] = static_cast<int>(block * 1000 + thread);
}

// Many blocks, so several OS threads run blocks at once, each with its own copy of the shared array.
TEST(CudaEmulation, SharedMemoryAndBarriers) {
  constexpr int blocks = 300;
  std::vector<int> in(blocks * 64), out(blocks * 64);
  std::iota(in.begin(), in.end(), 0);
  bioprop::launch<reverse_in_blocks>(dim3(blocks), dim3(64), 0, nullptr, in.data(), out.data());
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < 64; ++t) ASSERT_EQ(out[static_cast<size_t>(b * 64 + t)], b * 64 + 63 - t);
}

TEST(CudaEmulation, WarpShufflesAndAtomics) {
  std::vector<float> in(256);
  std::iota(in.begin(), in.end(), 1.0f);
  float total = 0;
  bioprop::launch<warp_sums>(dim3(2), dim3(128), 0, nullptr, in.data(), &total);
  EXPECT_EQ(total, 256.0f * 257.0f / 2.0f);
}

TEST(CudaEmulation, TwoDimensionalGridsAndBlocks) {
  std::vector<int> out(6 * 12, -1);
  bioprop::launch<record_indexes>(dim3(3, 2), dim3(4, 3), 0, nullptr, out.data());
  for (int block = 0; block < 6; ++block)
    for (int thread = 0; thread < 12; ++thread)
      ASSERT_EQ(out[static_cast<size_t>(block * 12 + thread)], block * 1000 + thread);
}

TEST(CudaEmulation, ABarrierSomeThreadsNeverReachIsAnErrorNamingTheKernel) {
  std::vector<int> out(64);
  try {
    bioprop::launch<barrier_not_reached_by_all>(dim3(3), dim3(64), 0, nullptr, out.data());
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("barrier_not_reached_by_all"), std::string::npos) << message;
    EXPECT_NE(message.find("48 wait at __syncthreads()"), std::string::npos) << message;
  }
  std::vector<float> lanes(64);
  EXPECT_THROW(bioprop::launch<shuffle_not_reached_by_all>(dim3(1), dim3(64), 0, nullptr, lanes.data()),
               std::runtime_error);
  // The emulation is usable afterwards.
  std::vector<int> in(64), reversed(64);
  std::iota(in.begin(), in.end(), 0);
  bioprop::launch<reverse_in_blocks>(dim3(1), dim3(64), 0, nullptr, in.data(), reversed.data());
  EXPECT_EQ(reversed[0], 63);
}

// A launch a GPU would refuse fails here too (before running anything), so CI sees launchers that
// size grids past CUDA's limits for large shapes.
TEST(CudaEmulation, RefusesLaunchesPastCudasLimits) {
  std::vector<int> out(16, -1);
  EXPECT_THROW(bioprop::launch<record_indexes>(dim3(1, 65536), dim3(1), 0, nullptr, out.data()), std::invalid_argument);
  EXPECT_THROW(bioprop::launch<record_indexes>(dim3(1, 1, 65536), dim3(1), 0, nullptr, out.data()),
               std::invalid_argument);
  EXPECT_THROW(bioprop::launch<record_indexes>(dim3(1), dim3(1025), 0, nullptr, out.data()), std::invalid_argument);
  EXPECT_THROW(bioprop::launch<record_indexes>(dim3(1), dim3(1, 1, 65), 0, nullptr, out.data()), std::invalid_argument);
  EXPECT_THROW(bioprop::launch<record_indexes>(dim3(1), dim3(1), 48 * 1024 + 1, nullptr, out.data()),
               std::invalid_argument);
  EXPECT_EQ(out[0], -1);
  EXPECT_NO_THROW(bioprop::launch<record_indexes>(dim3(4), dim3(4), 48 * 1024, nullptr, out.data()));
  EXPECT_EQ(out[15], 3 * 1000 + 3);
}

}  // namespace
