#pragma once
// launch(): the one way kernels are started, so the same call site runs the real kernel (nvcc) or
// the emulated one (host compiler + cuda_emulation.hpp). Never use <<<>>> at a call site.
#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include "bioprop/cuda_check.hpp"
#else
#include "bioprop/cuda_emulation.hpp"
#endif

#include <utility>

// Launchers (the host functions that size and start a kernel) are defined in the .cuh files: with
// external linkage in the one nvcc translation unit (cuda/kernels.cu) so host code can call them
// through cuda/kernels/launchers.hpp, and inline under the emulation.
#if defined(__CUDACC__)
#define BIOPROP_LAUNCHER
#else
#define BIOPROP_LAUNCHER inline
#endif

namespace bioprop {

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args&&... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;  // empty work: nothing to launch
#if defined(__CUDACC__)
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  BIOPROP_CUDA_CHECK(cudaGetLastError());
#else
  (void)stream;
  emulation::run_grid(kernel, grid, block, shared_bytes, static_cast<Params>(std::forward<Args>(args))...);
#endif
}

inline unsigned blocks_for(size_t work, unsigned per_block) {
  return static_cast<unsigned>((work + per_block - 1) / per_block);
}

}  // namespace bioprop
