#pragma once
// launch<kernel>(): the one way kernels are started, so the same call site runs the real kernel (nvcc)
// or the emulated one (host compiler + cuda_emulation.hpp), which then knows the kernel's name for its
// messages. Never use <<<>>> at a call site.
#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include "bioprop/cuda_check.hpp"
#else
#include "bioprop/cuda_emulation.hpp"
#endif

#include <string>
#include <utility>

// Launchers (the host functions that size and start a kernel) are defined in the .cuh files: with
// external linkage in the one translation unit that compiles them (cuda/kernels.cu, by nvcc or, for
// the emulated device, by the host compiler) so host code can call them through
// cuda/kernels/launchers.hpp, and inline in the kernel tests under the emulation.
#if defined(__CUDACC__) || defined(BIOPROP_KERNELS_TRANSLATION_UNIT)
#define BIOPROP_LAUNCHER
#else
#define BIOPROP_LAUNCHER inline
#endif

namespace bioprop {

// The readable name of a kernel from its address as a template argument (GCC and Clang spell it in
// __PRETTY_FUNCTION__ as "... [with auto kernel = name]").
template <auto kernel>
std::string kernel_name() {
  const std::string pretty = __PRETTY_FUNCTION__;
  const size_t at = pretty.find("kernel = ");
  if (at == std::string::npos) return pretty;
  std::string name = pretty.substr(at + 9);
  if (const size_t end = name.find_first_of(";]"); end != std::string::npos) name.resize(end);
  if (!name.empty() && name.front() == '&') name.erase(0, 1);
  return name;
}

// Checks a launch, and in BIOPROP_SYNC_CHECK=1 mode waits for it (cuda/sync_check.cpp), so a fault is
// reported at the launch that caused it.
void check_launch(const char* kernel, cudaStream_t stream);

template <auto kernel, typename... Args>
void launch(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;  // empty work: nothing to launch
#if defined(__CUDACC__)
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  check_launch(kernel_name<kernel>().c_str(), stream);
#else
  emulation::submit(stream, emulation::make_launch(kernel_name<kernel>(), kernel, grid, block, shared_bytes,
                                                   std::forward<Args>(args)...));
#if defined(BIOPROP_KERNELS_TRANSLATION_UNIT)
  check_launch(kernel_name<kernel>().c_str(), stream);
#endif
#endif
}

inline unsigned blocks_for(size_t work, unsigned per_block) {
  return static_cast<unsigned>((work + per_block - 1) / per_block);
}

}  // namespace bioprop
