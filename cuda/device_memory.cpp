#include "bioprop/device_memory.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>

#include "bioprop/cuda_check.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

namespace {

// Free blocks by size; a request takes the smallest cached block of at least its size (and at most
// twice it, so a huge block is not spent on a tiny tensor). BIOPROP_NO_ALLOCATOR_CACHE=1 bypasses the
// cache: every tensor gets a cudaMalloc of its exact size and a cudaFree when it dies, so a sanitizer or
// compute-sanitizer sees an overrun that a larger cached block would hide.
class DevicePool {
 public:
  DevicePool() {
    const char* value = std::getenv("BIOPROP_NO_ALLOCATOR_CACHE");
    bypass_ = value != nullptr && value[0] != '\0' && value[0] != '0';
  }

  void* allocate(size_t bytes) {
    bytes = bypass_ ? std::max<size_t>(bytes, 1) : round_up(bytes);
    std::lock_guard lock(mutex_);
    auto it = free_.lower_bound(bytes);
    if (it != free_.end() && it->first <= 2 * bytes) {
      void* block = it->second;
      stats_.cached_bytes -= it->first;
      sizes_[block] = it->first;
      stats_.in_use_bytes += it->first;
      free_.erase(it);
      update_peak();
      return block;
    }
    void* block = nullptr;
    if (cudaError_t error = cudaMalloc(&block, bytes); error != cudaSuccess) {
      cudaGetLastError();
      if (error != cudaErrorMemoryAllocation) report_failed_malloc(error, bytes);
      release_cached();  // give the cached blocks back and try once more
      if (error = cudaMalloc(&block, bytes); error != cudaSuccess) {
        cudaGetLastError();
        if (error != cudaErrorMemoryAllocation) report_failed_malloc(error, bytes);
        size_t free_bytes = 0, total_bytes = 0;
        cudaMemGetInfo(&free_bytes, &total_bytes);
        fail(
            "out of GPU memory: allocating {:.1f} MiB for a tensor; the device has {:.1f} MiB free of {:.1f} MiB, "
            "bioprop holds {:.1f} MiB (peak {:.1f} MiB). Use a smaller --batch-size or net",
            mib(bytes), mib(free_bytes), mib(total_bytes), mib(stats_.in_use_bytes), mib(stats_.peak_bytes));
      }
    }
    ++stats_.device_allocations;
    sizes_[block] = bytes;
    stats_.in_use_bytes += bytes;
    update_peak();
    return block;
  }

  void release(void* block) {
    std::lock_guard lock(mutex_);
    auto it = sizes_.find(block);
    if (it == sizes_.end()) return;
    stats_.in_use_bytes -= it->second;
    if (bypass_) {
      cudaFree(block);  // synchronises the device, as a use of the block may still be queued
    } else {
      stats_.cached_bytes += it->second;
      free_.emplace(it->second, block);
    }
    sizes_.erase(it);
  }

  DeviceMemoryStats stats() {
    std::lock_guard lock(mutex_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard lock(mutex_);
    stats_.peak_bytes = stats_.in_use_bytes;
  }

 private:
  // Not "out of memory": a fault earlier on the device, a driver error. Named as it is.
  [[noreturn]] static void report_failed_malloc(cudaError_t error, size_t bytes) {
    fail("cudaMalloc of {} bytes failed: {}", bytes, cudaGetErrorString(error));
  }
  static size_t round_up(size_t bytes) { return (std::max<size_t>(bytes, 1) + 511) / 512 * 512; }
  static double mib(size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }
  void update_peak() { stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.in_use_bytes); }
  void release_cached() {
    for (auto& [size, block] : free_) cudaFree(block);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  std::map<void*, size_t> sizes_;
  DeviceMemoryStats stats_;
  bool bypass_ = false;
};

DevicePool& pool() {
  static DevicePool* instance = new DevicePool;  // never destroyed: tensors may outlive static teardown
  return *instance;
}

}  // namespace

namespace {
std::atomic<cudaStream_t> work_stream{nullptr};

// Without a backend's stream the copy or fill runs on the default stream and is waited for.
void finish_if_unordered(cudaStream_t stream) {
  if (stream == nullptr) BIOPROP_CUDA_CHECK(cudaStreamSynchronize(nullptr));
}
}  // namespace

void set_cuda_work_stream(void* stream) { work_stream = static_cast<cudaStream_t>(stream); }
void* cuda_work_stream() { return work_stream.load(); }

std::shared_ptr<float> cuda_allocate_floats(size_t count) {
  auto* block = static_cast<float*>(pool().allocate(count * sizeof(float)));
  const cudaStream_t stream = work_stream;
  BIOPROP_CUDA_CHECK(cudaMemsetAsync(block, 0, count * sizeof(float), stream));
  finish_if_unordered(stream);
  return {block, [](float* p) { pool().release(p); }};
}

std::shared_ptr<float> cuda_allocate_pinned_floats(size_t count) {
  void* block = nullptr;
  const size_t bytes = std::max<size_t>(count, 1) * sizeof(float);
  if (cudaHostAlloc(&block, bytes, cudaHostAllocDefault) != cudaSuccess) {
    const cudaError_t error = cudaGetLastError();
    fail("cannot allocate {} bytes of pinned host memory for batch staging: {}", bytes, cudaGetErrorString(error));
  }
  std::fill_n(static_cast<float*>(block), count, 0.0f);
  return {static_cast<float*>(block), [](float* p) { cudaFreeHost(p); }};
}

void cuda_copy_device_to_device(float* destination, const float* source, size_t count) {
  const cudaStream_t stream = work_stream;
  BIOPROP_CUDA_CHECK(cudaMemcpyAsync(destination, source, count * sizeof(float), cudaMemcpyDeviceToDevice, stream));
  finish_if_unordered(stream);
}

DeviceMemoryStats device_memory_stats() { return pool().stats(); }
void reset_device_memory_peak() { pool().reset_peak(); }

}  // namespace bioprop
