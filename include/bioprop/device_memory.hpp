#pragma once
// Device memory for Tensors on CUDA: a caching allocator (freed blocks are kept for reuse, so a training
// loop that has run one batch never calls cudaMalloc or cudaFree again) and the copies Tensor needs.
// Defined in cuda/device_memory.cpp.
#include <cstddef>
#include <memory>

namespace bioprop {

// The stream the CUDA backend queues its work on (a cudaStream_t; null: none yet). New storage is
// zero-filled and device tensors are copied on it, so those operations are ordered with the kernels:
// the backend's streams are non-blocking, and the legacy default stream that cudaMemset and cudaMemcpy
// use would neither wait for queued kernels nor be waited for by them. A freed block that kernels
// still use is safe to hand out again for the same reason: its next writes queue behind them.
// Per thread: each trainer of a packed comparison (`bioprop compare --pack`) has its backend and stream
// on its own thread. Freed blocks are therefore cached per stream, the one they were allocated on (all
// uses of a trainer's tensors queue on its stream, as with PyTorch's caching allocator): another stream
// could not know when the queued uses end. A backend retires its stream once it has synchronised it, and
// the stream's cached blocks become free for every stream.
void set_cuda_work_stream(void* stream);
void* cuda_work_stream();
void retire_cuda_work_stream(void* stream);

// Zero-filled device storage for `count` floats; throws Error naming the size and the free memory
// when the device is full.
std::shared_ptr<float> cuda_allocate_floats(size_t count);
// Page-locked (pinned) host storage for `count` floats, zero-filled: the source of asynchronous
// uploads. Throws Error naming the size when the driver refuses it.
std::shared_ptr<float> cuda_allocate_pinned_floats(size_t count);
void cuda_copy_device_to_device(float* destination, const float* source, size_t count);

// in_use_bytes and peak_bytes are the calling thread's account's (see DeviceMemoryAccount); cached_bytes
// and device_allocations the whole process's.
struct DeviceMemoryStats {
  size_t in_use_bytes = 0, peak_bytes = 0, cached_bytes = 0, device_allocations = 0;
};
DeviceMemoryStats device_memory_stats();
// Starts a new peak from what the calling thread's account holds now: each run of a comparison reports
// its own.
void reset_device_memory_peak();

// While one lives, the blocks its thread allocates are counted in an account of their own (freed from
// any thread, they leave it): runs packed onto one device each report their own memory. Without one a
// thread uses the shared account 0.
class DeviceMemoryAccount {
 public:
  DeviceMemoryAccount();
  ~DeviceMemoryAccount();
  DeviceMemoryAccount(const DeviceMemoryAccount&) = delete;
  DeviceMemoryAccount& operator=(const DeviceMemoryAccount&) = delete;

 private:
  int previous_;
};

}  // namespace bioprop
