// Runs an emulated launch's blocks on a pool of OS threads (each block on one thread, its CUDA threads
// as fibers there: block_runner.cpp), and the entry points the kernels call.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "block_runner.hpp"

namespace bioprop::emulation {

void syncthreads() { this_thread_runner().wait_at_block_barrier(); }
void warp_barrier() { this_thread_runner().wait_at_warp_barrier(); }
uint64_t* warp_exchange_slots() { return this_thread_runner().warp_slots(); }
void* dynamic_shared() { return this_thread_runner().dynamic_shared(); }

void check_launch_limits(const KernelLaunch& launch) {
  constexpr unsigned max_grid_yz = 65535, max_threads = 1024, max_block_z = 64;
  constexpr size_t max_default_shared = 48 * 1024;  // more needs cudaFuncSetAttribute opt-in
  const dim3 grid = launch.grid, block = launch.block;
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (grid.y > max_grid_yz || grid.z > max_grid_yz || block.z > max_block_z || threads > max_threads || threads == 0 ||
      launch.shared_bytes > max_default_shared)
    throw std::invalid_argument(fmt::format(
        "emulated launch of {}: grid ({}, {}, {}), block ({}, {}, {}), {} shared bytes exceeds CUDA's launch limits",
        launch.name, grid.x, grid.y, grid.z, block.x, block.y, block.z, launch.shared_bytes));
}

namespace {

unsigned worker_count() {
  if (const char* value = std::getenv("BIOPROP_EMULATION_THREADS")) {
    const int n = std::atoi(value);
    if (n >= 1) return static_cast<unsigned>(n);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// Helper threads that join the calling thread in taking blocks from a shared counter. One grid at a
// time; a second caller while one runs does its grid alone.
class BlockPool {
 public:
  BlockPool() {
    for (unsigned i = 1; i < worker_count(); ++i) helpers_.emplace_back([this] { help(); });
  }
  ~BlockPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& helper : helpers_) helper.join();
  }

  void run(const KernelLaunch& launch) {
    const uint64_t blocks = 1ull * launch.grid.x * launch.grid.y * launch.grid.z;
    std::unique_lock busy(busy_, std::try_to_lock);
    if (!busy || helpers_.empty() || blocks < 2) {
      Grid alone(&launch, blocks);
      take_blocks(alone);
      if (alone.error) std::rethrow_exception(alone.error);
      return;
    }
    Grid grid(&launch, blocks);
    {
      std::lock_guard lock(mutex_);
      grid_ = &grid;
      ++generation_;
    }
    wake_.notify_all();
    take_blocks(grid);
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [&] { return grid.helpers_inside == 0; });
    grid_ = nullptr;
    if (grid.error) std::rethrow_exception(grid.error);
  }

 private:
  struct Grid {
    Grid(const KernelLaunch* l, uint64_t b) : launch(l), blocks(b) {}
    const KernelLaunch* launch;
    uint64_t blocks;
    std::atomic<uint64_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex error_mutex;
    std::exception_ptr error;
    unsigned helpers_inside = 0;  // guarded by the pool's mutex
  };

  static void take_blocks(Grid& grid) {
    const dim3 g = grid.launch->grid;
    BlockRunner& runner = this_thread_runner();
    for (uint64_t b = grid.next++; b < grid.blocks && !grid.failed; b = grid.next++) {
      const dim3 index(static_cast<unsigned>(b % g.x), static_cast<unsigned>(b / g.x % g.y),
                       static_cast<unsigned>(b / (1ull * g.x * g.y)));
      try {
        runner.run(*grid.launch, index);
      } catch (...) {
        std::lock_guard lock(grid.error_mutex);
        if (!grid.error) grid.error = std::current_exception();
        grid.failed = true;
      }
    }
  }

  void help() {
    uint64_t seen = 0;
    for (;;) {
      Grid* grid = nullptr;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || (grid_ != nullptr && generation_ != seen); });
        if (stopping_) return;
        seen = generation_;
        grid = grid_;
        ++grid->helpers_inside;
      }
      take_blocks(*grid);
      {
        std::lock_guard lock(mutex_);
        --grid->helpers_inside;
      }
      finished_.notify_all();
    }
  }

  std::mutex busy_, mutex_;
  std::condition_variable wake_, finished_;
  Grid* grid_ = nullptr;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> helpers_;
};

BlockPool& pool() {
  static BlockPool* instance = new BlockPool;  // never destroyed: launches may come from static teardown
  return *instance;
}

std::atomic<LaunchQueue> launch_queue{nullptr};

}  // namespace

void run_grid(const KernelLaunch& launch) {
  check_launch_limits(launch);
  pool().run(launch);
}

void set_launch_queue(LaunchQueue queue) { launch_queue = queue; }

void submit(cudaStream_t stream, KernelLaunch&& launch) {
  if (const LaunchQueue queue = launch_queue.load()) return queue(stream, std::move(launch));
  run_grid(launch);
}

}  // namespace bioprop::emulation
