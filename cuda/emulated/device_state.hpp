#pragma once
// The emulated device's state, shared by its runtime, cuBLAS and cuDNN (DESIGN.md section 6.3):
// tracked allocations, streams whose work is deferred until the program synchronises with it,
// events, and CUDA's error model (a per-thread last error, a sticky error after a fault). One mutex
// guards it all; queued work runs under it.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "bioprop/emulated_launch.hpp"

// The opaque handle types of the CUDA headers, defined here.
struct CUstream_st {
  struct Operation {
    std::string what;
    std::function<void()> run;
  };
  bool non_blocking = false;
  std::deque<Operation> pending;
  uint64_t enqueued = 0, completed = 0;
};
struct CUevent_st {
  CUstream_st* stream = nullptr;  // where it was last recorded (null: never)
  uint64_t position = 0;          // the work of `stream` it marks: operations [0, position)
};

namespace bioprop::emulated {

enum class MemoryKind { device, pinned_host };

struct Allocation {
  size_t bytes = 0;
  MemoryKind kind = MemoryKind::device;
  bool live = true;  // false: freed (kept to name a use after free)
};

// What a pointer range is, for checks and messages.
struct Lookup {
  const Allocation* allocation = nullptr;  // null: not ours (pageable host memory)
  uintptr_t base = 0;
  bool fits = false;  // [pointer, pointer + bytes) inside the allocation
};

class DeviceState {
 public:
  static DeviceState& get();
  std::recursive_mutex mutex;

  // --- errors ---------------------------------------------------------------------------------
  // Records `error` as the calling thread's last error, with a message naming the call, and returns it.
  cudaError_t fail(cudaError_t error, const std::string& detail);
  // A device fault: every later call returns `error` (CUDA's sticky errors).
  cudaError_t fault(cudaError_t error, const std::string& detail);
  cudaError_t sticky() const { return sticky_; }
  cudaError_t take_last_error(bool reset);
  // CUDA's name for the error and the detail of its latest occurrence (stored: the pointer stays valid).
  const char* describe(cudaError_t error);
  void clear_sticky_error() { sticky_ = cudaSuccess; }

  // --- memory ---------------------------------------------------------------------------------
  void* allocate(size_t bytes, MemoryKind kind, bool* out_of_memory);
  // Frees the allocation starting at `p`; returns a message when `p` is not one (empty when freed).
  std::string release(void* p, MemoryKind kind);
  Lookup find(const void* p, size_t bytes) const;
  // Empty when [p, p + bytes) is live device memory; else why not, naming `call` and `operand`.
  std::string check_device_range(const void* p, size_t bytes, const std::string& call,
                                 const std::string& operand) const;
  bool is_device_pointer(const void* p) const;
  size_t memory_size() const { return memory_size_; }
  size_t memory_in_use() const { return in_use_; }
  void set_memory_size(size_t bytes) { memory_size_ = bytes; }

  // --- streams and events ---------------------------------------------------------------------
  CUstream_st* stream(cudaStream_t handle);  // null for a handle that is not a live stream
  CUstream_st* create_stream(bool non_blocking);
  void destroy_stream(CUstream_st* stream);
  CUevent_st* event(cudaEvent_t handle);
  CUevent_st* create_event();
  void destroy_event(CUevent_st* event);
  // Queues work on a stream, with the implicit ordering of the legacy default stream against
  // blocking streams.
  void enqueue(CUstream_st* stream, std::string what, std::function<void()> run);
  // Runs the stream's work up to operation `position` (exclusive), in order.
  void run_until(CUstream_st* stream, uint64_t position);
  void synchronize(CUstream_st* stream) { run_until(stream, stream->enqueued); }
  void synchronize_all();
  size_t pending_operations() const;

 private:
  DeviceState();
  cudaError_t sticky_ = cudaSuccess;
  std::map<cudaError_t, std::string> details_;
  std::deque<std::string> described_;  // stable storage for describe()'s strings
  std::map<uintptr_t, Allocation> allocations_;
  size_t memory_size_, in_use_ = 0;
  CUstream_st legacy_;
  std::set<CUstream_st*> streams_;
  std::set<CUevent_st*> events_;
};

std::string pointer_text(const void* p);

// Checks a kernel launch and queues it on its stream (runtime.cpp).
void queue_kernel(cudaStream_t stream, emulation::KernelLaunch&& launch);

}  // namespace bioprop::emulated
