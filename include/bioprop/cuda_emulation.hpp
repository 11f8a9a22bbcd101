#pragma once
// CUDA emulation: compiles the kernels of cuda/kernels as plain C++ and runs them on the CPU, like
// nvcc's old device-emulation mode (DESIGN.md section 6). A block's threads are cooperative fibers on
// one OS thread that switch only where CUDA threads wait for each other (__syncthreads and warp
// shuffles), so a kernel without barriers runs its threads one after another at the cost of a
// function call; blocks run on several OS threads at once. __shared__ variables are thread_local
// statics: one copy per OS thread serves the block that thread is running. A barrier that not every
// thread of the block reaches is an error naming the kernel, never a hang. Atomics are
// std::atomic_ref. The scheduler lives in cuda/emulation/ (library bioprop_kernel_emulation).
// Include this header instead of the CUDA headers (only when __CUDACC__ is not defined).
#if defined(__CUDACC__)
#error "cuda_emulation.hpp is for host compilers; nvcc builds the real kernels"
#endif

// The real runtime header gives the types (dim3, cudaStream_t, cudaError_t) so that host code built
// against the emulation and host code built against CUDA agree on every signature; its execution-space
// qualifiers are attributes g++ does not know, so they are redefined below.
#include <cuda_runtime_api.h>
#include <math.h>  // expf, sqrtf, fmaxf, ... in the global namespace, as in device code

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "bioprop/emulated_launch.hpp"

#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __shared__
#define BIOPROP_CUDA_EMULATION 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local

namespace bioprop::emulation {

// Every lane of the warp publishes `value`, then reads the one of `source_lane`. Lanes outside the
// warp's range read their own value (CUDA leaves that case to the caller; our kernels never rely on it).
template <typename T>
T exchange(T value, int source_lane) {
  static_assert(sizeof(T) <= sizeof(uint64_t));
  uint64_t* slots = warp_exchange_slots();
  const unsigned warp = context.linear_thread / warp_size, lane = context.linear_thread % warp_size;
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  slots[lane] = bits;
  warp_barrier();
  const unsigned lanes =
      std::min<unsigned>(warp_size, context.block_dim.x * context.block_dim.y * context.block_dim.z - warp * warp_size);
  T result = value;
  if (source_lane >= 0 && static_cast<unsigned>(source_lane) < lanes)
    std::memcpy(&result, &slots[static_cast<unsigned>(source_lane)], sizeof(T));
  warp_barrier();  // nobody overwrites a slot before everyone has read
  return result;
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
