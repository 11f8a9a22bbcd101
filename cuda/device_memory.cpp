#include "bioprop/device_memory.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

#include "bioprop/cuda_check.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

namespace {

// Free blocks by stream and size; a request takes the smallest cached block of its stream (or of a
// retired stream) of at least its size (and at most twice it, so a huge block is not spent on a tiny
// tensor). BIOPROP_NO_ALLOCATOR_CACHE=1 bypasses the cache: every tensor gets a cudaMalloc of its exact
// size and a cudaFree when it dies, so a sanitizer or compute-sanitizer sees an overrun that a larger
// cached block would hide.
class DevicePool {
 public:
  DevicePool() {
    const char* value = std::getenv("BIOPROP_NO_ALLOCATOR_CACHE");
    bypass_ = value != nullptr && value[0] != '\0' && value[0] != '0';
  }

  void* allocate(size_t bytes, cudaStream_t stream, int account) {
    bytes = bypass_ ? std::max<size_t>(bytes, 1) : round_up(bytes);
    std::lock_guard lock(mutex_);
    void* block = take_cached(bytes, stream);
    if (block == nullptr) {
      block = device_malloc(bytes);
      ++stats_.device_allocations;
    }
    blocks_[block] = {bytes, stream, account};
    AccountStats& a = accounts_[account];
    a.in_use += bytes;
    a.peak = std::max(a.peak, a.in_use);
    return block;
  }

  void release(void* block) {
    std::lock_guard lock(mutex_);
    auto it = blocks_.find(block);
    if (it == blocks_.end()) return;
    const BlockInfo info = it->second;
    blocks_.erase(it);
    accounts_[info.account].in_use -= info.bytes;
    if (bypass_) {
      cudaFree(block);  // synchronises the device, as a use of the block may still be queued
      return;
    }
    stats_.cached_bytes += info.bytes;
    free_[retired_.count(info.stream) != 0 ? nullptr : info.stream].emplace(info.bytes, block);
  }

  void retire(cudaStream_t stream) {
    std::lock_guard lock(mutex_);
    retired_.insert(stream);
    auto it = free_.find(stream);
    if (it == free_.end() || stream == nullptr) return;
    free_[nullptr].merge(it->second);
    free_.erase(it);
  }
  void revive(cudaStream_t stream) {  // a new stream may get a retired one's handle
    std::lock_guard lock(mutex_);
    retired_.erase(stream);
  }

  DeviceMemoryStats stats(int account) {
    std::lock_guard lock(mutex_);
    DeviceMemoryStats s = stats_;
    s.in_use_bytes = accounts_[account].in_use;
    s.peak_bytes = accounts_[account].peak;
    return s;
  }
  void reset_peak(int account) {
    std::lock_guard lock(mutex_);
    accounts_[account].peak = accounts_[account].in_use;
  }
  void close_account(int account) {
    std::lock_guard lock(mutex_);
    for (auto& [block, info] : blocks_)  // blocks that outlive their account return to the shared one
      if (info.account == account) info.account = 0, accounts_[0].in_use += info.bytes;
    accounts_.erase(account);
  }

 private:
  struct BlockInfo {
    size_t bytes = 0;
    cudaStream_t stream = nullptr;  // the stream it was allocated on, where its uses queue
    int account = 0;
  };
  struct AccountStats {
    size_t in_use = 0, peak = 0;
  };

  void* take_cached(size_t bytes, cudaStream_t stream) {
    for (cudaStream_t from : {stream, cudaStream_t{nullptr}}) {
      auto list = free_.find(from);
      if (list == free_.end()) continue;
      auto it = list->second.lower_bound(bytes);
      if (it == list->second.end() || it->first > 2 * bytes) continue;
      void* block = it->second;
      stats_.cached_bytes -= it->first;
      list->second.erase(it);
      return block;
    }
    return nullptr;
  }
  void* device_malloc(size_t bytes) {
    void* block = nullptr;
    cudaError_t error = cudaMalloc(&block, bytes);
    if (error == cudaSuccess) return block;
    cudaGetLastError();
    if (error != cudaErrorMemoryAllocation) report_failed_malloc(error, bytes);
    release_cached();  // give the cached blocks back and try once more
    if (error = cudaMalloc(&block, bytes); error == cudaSuccess) return block;
    cudaGetLastError();
    if (error != cudaErrorMemoryAllocation) report_failed_malloc(error, bytes);
    size_t free_bytes = 0, total_bytes = 0, in_use = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    for (const auto& [account, a] : accounts_) in_use += a.in_use;
    fail(
        "out of GPU memory: allocating {:.1f} MiB for a tensor; the device has {:.1f} MiB free of {:.1f} MiB, "
        "bioprop holds {:.1f} MiB. Use a smaller --batch-size or net{}",
        mib(bytes), mib(free_bytes), mib(total_bytes), mib(in_use),
        accounts_.size() > 1 ? ", or pack fewer runs (--pack)" : "");
  }
  // Not "out of memory": a fault earlier on the device, a driver error. Named as it is.
  [[noreturn]] static void report_failed_malloc(cudaError_t error, size_t bytes) {
    fail("cudaMalloc of {} bytes failed: {}", bytes, cudaGetErrorString(error));
  }
  static size_t round_up(size_t bytes) { return (std::max<size_t>(bytes, 1) + 511) / 512 * 512; }
  static double mib(size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }
  // cudaFree waits for the whole device, so every stream's cached blocks can go back.
  void release_cached() {
    for (auto& [stream, blocks] : free_)
      for (auto& [size, block] : blocks) cudaFree(block);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  std::mutex mutex_;
  std::map<cudaStream_t, std::multimap<size_t, void*>> free_;
  std::map<void*, BlockInfo> blocks_;
  std::map<int, AccountStats> accounts_;
  std::set<cudaStream_t> retired_;
  DeviceMemoryStats stats_;  // cached_bytes and device_allocations
  bool bypass_ = false;
};

DevicePool& pool() {
  static DevicePool* instance = new DevicePool;  // never destroyed: tensors may outlive static teardown
  return *instance;
}

}  // namespace

namespace {
thread_local cudaStream_t work_stream = nullptr;
thread_local int memory_account = 0;
std::atomic<int> next_memory_account{1};

// Without a backend's stream the copy or fill runs on the default stream and is waited for.
void finish_if_unordered(cudaStream_t stream) {
  if (stream == nullptr) BIOPROP_CUDA_CHECK(cudaStreamSynchronize(nullptr));
}
}  // namespace

void set_cuda_work_stream(void* stream) {
  work_stream = static_cast<cudaStream_t>(stream);
  pool().revive(work_stream);
}
void* cuda_work_stream() { return work_stream; }
void retire_cuda_work_stream(void* stream) { pool().retire(static_cast<cudaStream_t>(stream)); }

DeviceMemoryAccount::DeviceMemoryAccount() : previous_(memory_account) { memory_account = next_memory_account++; }
DeviceMemoryAccount::~DeviceMemoryAccount() {
  pool().close_account(memory_account);
  memory_account = previous_;
}

std::shared_ptr<float> cuda_allocate_floats(size_t count) {
  auto* block = static_cast<float*>(pool().allocate(count * sizeof(float), work_stream, memory_account));
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

DeviceMemoryStats device_memory_stats() { return pool().stats(memory_account); }
void reset_device_memory_peak() { pool().reset_peak(memory_account); }

}  // namespace bioprop
