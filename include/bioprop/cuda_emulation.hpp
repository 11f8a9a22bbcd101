#pragma once
// CUDA emulation: compiles the kernels of cuda/kernels as plain C++ and runs them on the CPU, like
// nvcc's old device-emulation mode (DESIGN.md section 6). Blocks run one after another; the threads
// of a block are real std::threads that meet at a barrier in __syncthreads(); __shared__ variables
// are static, so one copy serves the running block (blocks never overlap); warp shuffles exchange
// values through a per-warp slot array between two warp barriers; atomics are std::atomic_ref.
// Include this header instead of the CUDA headers (only when __CUDACC__ is not defined).
#if defined(__CUDACC__)
#error "cuda_emulation.hpp is for host compilers; nvcc builds the real kernels"
#endif

#include <math.h>  // expf, sqrtf, fmaxf, ... in the global namespace, as in device code
#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#define BIOPROP_CUDA_EMULATION 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using cudaStream_t = void*;

namespace bioprop::emulation {

constexpr int warp_size = 32;

// The state of the block being run, shared by its threads.
struct BlockState {
  explicit BlockState(unsigned threads)
      : barrier(static_cast<std::ptrdiff_t>(threads)),
        warp_barriers((threads + warp_size - 1) / warp_size),
        warp_slots((threads + warp_size - 1) / warp_size) {
    for (size_t w = 0; w < warp_barriers.size(); ++w) {
      const unsigned in_warp = std::min<unsigned>(warp_size, threads - static_cast<unsigned>(w) * warp_size);
      warp_barriers[w] = std::make_unique<std::barrier<>>(static_cast<std::ptrdiff_t>(in_warp));
    }
  }
  std::barrier<> barrier;
  std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
  std::vector<std::array<uint64_t, warp_size>> warp_slots;
  std::vector<std::byte> dynamic_shared;
};

struct ThreadContext {
  dim3 thread_index, block_index, block_dim, grid_dim;
  BlockState* block = nullptr;
  unsigned linear_thread = 0;
};
inline thread_local ThreadContext context;

inline void syncthreads() { context.block->barrier.arrive_and_wait(); }

// Every lane of the warp publishes `value`, then reads the one of `source_lane`. Lanes outside the warp's
// range read their own value (CUDA leaves that case to the caller; our kernels never rely on it).
template <typename T>
T exchange(T value, int source_lane) {
  static_assert(sizeof(T) <= sizeof(uint64_t));
  const unsigned warp = context.linear_thread / warp_size, lane = context.linear_thread % warp_size;
  auto& slots = context.block->warp_slots[warp];
  auto& warp_barrier = *context.block->warp_barriers[warp];
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  slots[lane] = bits;
  warp_barrier.arrive_and_wait();
  const unsigned lanes =
      std::min<unsigned>(warp_size, context.block_dim.x * context.block_dim.y * context.block_dim.z - warp * warp_size);
  T result = value;
  if (source_lane >= 0 && static_cast<unsigned>(source_lane) < lanes)
    std::memcpy(&result, &slots[static_cast<unsigned>(source_lane)], sizeof(T));
  warp_barrier.arrive_and_wait();  // nobody overwrites a slot before everyone has read
  return result;
}

inline void* dynamic_shared() { return context.block->dynamic_shared.data(); }

// A launch a real GPU would refuse ("invalid configuration argument") is refused here too, so CI
// catches a launcher that sizes its grid past CUDA's limits for large shapes.
inline void check_launch_limits(dim3 grid, dim3 block, size_t shared_bytes) {
  constexpr unsigned max_grid_yz = 65535, max_threads = 1024, max_block_z = 64;
  constexpr size_t max_default_shared = 48 * 1024;  // more needs cudaFuncSetAttribute opt-in
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (grid.y > max_grid_yz || grid.z > max_grid_yz || block.z > max_block_z || threads > max_threads ||
      shared_bytes > max_default_shared)
    throw std::invalid_argument("emulated launch: grid (" + std::to_string(grid.x) + ", " + std::to_string(grid.y) +
                                ", " + std::to_string(grid.z) + "), block (" + std::to_string(block.x) + ", " +
                                std::to_string(block.y) + ", " + std::to_string(block.z) + "), " +
                                std::to_string(shared_bytes) + " shared bytes exceeds CUDA's launch limits");
}

// Runs kernel(args...) over the grid: block after block, each with its threads in parallel.
template <typename Kernel, typename... Args>
void run_grid(Kernel kernel, dim3 grid, dim3 block, size_t shared_bytes, Args... args) {
  check_launch_limits(grid, block, shared_bytes);
  const unsigned threads = block.x * block.y * block.z;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        BlockState state(threads);
        state.dynamic_shared.resize(shared_bytes);
        std::vector<std::thread> workers;
        workers.reserve(threads);
        for (unsigned t = 0; t < threads; ++t)
          workers.emplace_back([&, t] {
            context = {dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y)),
                       dim3(bx, by, bz),
                       block,
                       grid,
                       &state,
                       t};
            kernel(args...);
          });
        for (auto& w : workers) w.join();
      }
}

}  // namespace bioprop::emulation

#define threadIdx (::bioprop::emulation::context.thread_index)
#define blockIdx (::bioprop::emulation::context.block_index)
#define blockDim (::bioprop::emulation::context.block_dim)
#define gridDim (::bioprop::emulation::context.grid_dim)
#define warpSize (::bioprop::emulation::warp_size)

inline void __syncthreads() { ::bioprop::emulation::syncthreads(); }
template <typename T>
T __shfl_sync(unsigned /*mask*/, T value, int lane) {
  return ::bioprop::emulation::exchange(value, lane);
}
template <typename T>
T __shfl_down_sync(unsigned /*mask*/, T value, unsigned delta) {
  const int lane = static_cast<int>(::bioprop::emulation::context.linear_thread % warpSize);
  return ::bioprop::emulation::exchange(value, lane + static_cast<int>(delta));
}
template <typename T>
T __shfl_xor_sync(unsigned /*mask*/, T value, int lane_mask) {
  const int lane = static_cast<int>(::bioprop::emulation::context.linear_thread % warpSize);
  return ::bioprop::emulation::exchange(value, lane ^ lane_mask);
}
template <typename T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value);
}
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
