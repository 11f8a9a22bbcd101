#pragma once
// The launch side of the CUDA kernel emulation (cuda_emulation.hpp has the kernel side: qualifiers,
// threadIdx and friends, barriers): how a launch is packed, run over its grid, or queued on an
// emulated device's stream. Implemented in cuda/emulation/ (library bioprop_kernel_emulation).
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace bioprop::emulation {

constexpr int warp_size = 32;

// Where the running CUDA thread is; the scheduler sets it before resuming a fiber.
struct ThreadContext {
  dim3 thread_index, block_index, block_dim, grid_dim;
  unsigned linear_thread = 0;
};
inline thread_local ThreadContext context;

// Barriers of the running block (cuda/emulation/grid_runner.cpp).
void syncthreads();
void warp_barrier();              // every lane of the caller's warp
uint64_t* warp_exchange_slots();  // 32 slots of the caller's warp, one per lane
void* dynamic_shared();

// One kernel launch, as the scheduler runs it: `body` runs one CUDA thread (context already set).
struct KernelLaunch {
  std::string name;
  dim3 grid, block;
  size_t shared_bytes = 0;
  std::function<void()> body;
  // The pointer arguments by position (0-based), so an emulated device can check that each one is
  // device memory, as a GPU would fault on a host pointer.
  std::vector<std::pair<int, const void*>> pointer_arguments;
};

// A launch a real GPU would refuse ("invalid configuration argument") throws std::invalid_argument,
// so CI catches a launcher that sizes its grid past CUDA's limits for large shapes.
void check_launch_limits(const KernelLaunch& launch);
// Runs every block of the launch now, on up to BIOPROP_EMULATION_THREADS OS threads (default: all
// cores). Throws std::runtime_error naming the kernel for a barrier some threads never reach.
void run_grid(const KernelLaunch& launch);

// An emulated device queues launches on its streams (deferred execution); without one they run now.
using LaunchQueue = void (*)(cudaStream_t stream, KernelLaunch&& launch);
void set_launch_queue(LaunchQueue queue);
void submit(cudaStream_t stream, KernelLaunch&& launch);

template <typename... Args>
std::vector<std::pair<int, const void*>> pointers_among(const Args&... args) {
  std::vector<std::pair<int, const void*>> pointers;
  int position = 0;
  (
      [&](const auto& arg) {
        if constexpr (std::is_pointer_v<std::decay_t<decltype(arg)>>)
          if (arg != nullptr) pointers.emplace_back(position, static_cast<const void*>(arg));
        ++position;
      }(args),
      ...);
  return pointers;
}

// Packs kernel(args...) into a launch: the arguments are copied now, as a real launch copies them.
template <typename... Params, typename... Args>
KernelLaunch make_launch(std::string name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
                         Args&&... args) {
  std::tuple<Params...> values{static_cast<Params>(std::forward<Args>(args))...};
  KernelLaunch launch{std::move(name), grid, block, shared_bytes, {}, {}};
  launch.pointer_arguments = std::apply([](const auto&... v) { return pointers_among(v...); }, values);
  launch.body = [kernel, values]() { std::apply(kernel, values); };
  return launch;
}

}  // namespace bioprop::emulation
