// The CUDA runtime functions bioprop calls, on the emulated device (DESIGN.md section 6.3), with the
// semantics of NVIDIA's CUDA Runtime API reference: memory is tracked, copies check their direction
// and bounds, work on a stream runs only when the program synchronises with it, errors are per-thread
// and sticky after a fault. Kernel launches arrive through the emulation's launch queue.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "device_state.hpp"

using bioprop::emulated::DeviceState;
using bioprop::emulated::MemoryKind;
using bioprop::emulated::pointer_text;

namespace {

DeviceState& state() { return DeviceState::get(); }

// Every call starts here: the device's lock, and the sticky error of a faulted device.
#define EMULATED_CALL                       \
  std::lock_guard call_lock(state().mutex); \
  if (state().sticky() != cudaSuccess) return state().take_last_error(false)

}  // namespace

// Queues the launches of the emulated kernels (cuda/kernels.cu compiled by the host compiler) on their
// streams; DeviceState installs it when the device is first used, as CUDA creates its context lazily.
void bioprop::emulated::queue_kernel(cudaStream_t handle, bioprop::emulation::KernelLaunch&& launch) {
  std::lock_guard lock(state().mutex);
  if (state().sticky() != cudaSuccess) return;
  try {
    bioprop::emulation::check_launch_limits(launch);
  } catch (const std::invalid_argument& e) {
    state().fail(cudaErrorInvalidConfiguration, e.what());
    return;
  }
  CUstream_st* stream = state().stream(handle);
  if (!stream) {
    state().fail(cudaErrorInvalidResourceHandle,
                 "launch of " + launch.name + " on " + pointer_text(handle) + ", which is not a live stream");
    return;
  }
  // A GPU faults on a host or freed pointer when the kernel dereferences it; the emulation names it.
  for (const auto& [position, pointer] : launch.pointer_arguments) {
    const std::string problem =
        state().check_device_range(pointer, 1, "kernel " + launch.name, "argument " + std::to_string(position + 1));
    if (!problem.empty()) {
      state().fault(cudaErrorIllegalAddress, problem);
      return;
    }
  }
  auto shared = std::make_shared<bioprop::emulation::KernelLaunch>(std::move(launch));
  state().enqueue(stream, "kernel " + shared->name, [shared] { bioprop::emulation::run_grid(*shared); });
}

namespace {

bool simulate_old_driver() {
  const char* value = std::getenv("BIOPROP_EMULATED_DRIVER_ERROR");
  return value != nullptr && value[0] != '\0' && value[0] != '0';
}

cudaError_t check_device_index(int device, const char* call) {
  if (device == 0) return cudaSuccess;
  return state().fail(cudaErrorInvalidDevice,
                      std::string(call) + ": device " + std::to_string(device) + " (the emulated device is 0)");
}

enum class Side { host, device };
const char* side_name(Side s) { return s == Side::host ? "host" : "device"; }

// What cudaMemcpyKind says about each side, and the check that the pointers agree with it.
cudaError_t check_copy(const char* call, void* dst, const void* src, size_t count, cudaMemcpyKind kind, Side* dst_side,
                       Side* src_side) {
  // Device and host memory share the process's heap here, so a freed device block's addresses may come
  // back as host memory: only live device memory counts as device memory (a device-side operand in
  // freed memory is still named a use after free by check_device_range).
  const auto side_of = [](const void* p) { return state().is_device_pointer(p) ? Side::device : Side::host; };
  switch (kind) {
    case cudaMemcpyHostToDevice:
      *src_side = Side::host, *dst_side = Side::device;
      break;
    case cudaMemcpyDeviceToHost:
      *src_side = Side::device, *dst_side = Side::host;
      break;
    case cudaMemcpyDeviceToDevice:
      *src_side = Side::device, *dst_side = Side::device;
      break;
    case cudaMemcpyHostToHost:
      *src_side = Side::host, *dst_side = Side::host;
      break;
    case cudaMemcpyDefault:
      *src_side = side_of(src), *dst_side = side_of(dst);
      break;
    default:
      return state().fail(cudaErrorInvalidValue,
                          std::string(call) + ": unknown cudaMemcpyKind " + std::to_string(static_cast<int>(kind)));
  }
  for (const auto& [p, side, role] :
       {std::tuple{static_cast<const void*>(dst), *dst_side, "destination"}, std::tuple{src, *src_side, "source"}}) {
    if (side == Side::device) {
      if (const std::string problem = state().check_device_range(p, count, call, role); !problem.empty())
        return state().fail(cudaErrorInvalidValue, problem + " (the copy's kind says " + side_name(side) + ")");
    } else if (side_of(p) == Side::device) {
      return state().fail(cudaErrorInvalidValue, std::string(call) + ": the " + role + " " + pointer_text(p) +
                                                     " is device memory, but the copy's kind says host");
    } else if (p == nullptr) {
      return state().fail(cudaErrorInvalidValue, std::string(call) + ": the " + role + " is a null pointer");
    }
  }
  return cudaSuccess;
}

// The live stream or event behind a handle; else records cudaErrorInvalidResourceHandle naming `call`.
CUstream_st* live_stream(cudaStream_t handle, const char* call) {
  CUstream_st* stream = state().stream(handle);
  if (!stream)
    state().fail(cudaErrorInvalidResourceHandle,
                 std::string(call) + ": stream " + pointer_text(handle) + " is not a live stream (destroyed?)");
  return stream;
}
CUevent_st* live_event(cudaEvent_t handle, const char* call) {
  CUevent_st* event = state().event(handle);
  if (!event)
    state().fail(cudaErrorInvalidResourceHandle,
                 std::string(call) + ": event " + pointer_text(handle) + " is not a live event (destroyed?)");
  return event;
}

bool pinned(const void* p) {
  const auto l = state().find(p, 0);
  return l.allocation && l.allocation->live && l.allocation->kind == MemoryKind::pinned_host;
}

}  // namespace

// --- errors and versions ----------------------------------------------------------------------------

cudaError_t cudaGetLastError() {
  std::lock_guard lock(state().mutex);
  return state().take_last_error(true);
}
cudaError_t cudaPeekAtLastError() {
  std::lock_guard lock(state().mutex);
  return state().take_last_error(false);
}
const char* cudaGetErrorString(cudaError_t error) {
  std::lock_guard lock(state().mutex);
  return state().describe(error);
}
const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorIllegalAddress:
      return "cudaErrorIllegalAddress";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorInsufficientDriver:
      return "cudaErrorInsufficientDriver";
    default:
      return "cudaErrorUnknown";
  }
}
// CUDA 13.0 runtime and driver, unless BIOPROP_EMULATED_DRIVER_ERROR=1 plays a driver that is too old.
cudaError_t cudaDriverGetVersion(int* version) {
  if (!version) return state().fail(cudaErrorInvalidValue, "cudaDriverGetVersion: null pointer");
  *version = simulate_old_driver() ? 11040 : 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  if (!version) return state().fail(cudaErrorInvalidValue, "cudaRuntimeGetVersion: null pointer");
  *version = 13000;
  return cudaSuccess;
}

// --- the device ---------------------------------------------------------------------------------------

cudaError_t cudaGetDeviceCount(int* count) {
  std::lock_guard lock(state().mutex);
  if (!count) return state().fail(cudaErrorInvalidValue, "cudaGetDeviceCount: null pointer");
  *count = 0;
  if (simulate_old_driver())
    return state().fail(cudaErrorInsufficientDriver,
                        "cudaGetDeviceCount: BIOPROP_EMULATED_DRIVER_ERROR plays a driver (11.4) older than the "
                        "runtime (13.0)");
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  EMULATED_CALL;
  return check_device_index(device, "cudaSetDevice");
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int device) {
  EMULATED_CALL;
  if (const cudaError_t e = check_device_index(device, "cudaGetDeviceProperties")) return e;
  if (!properties) return state().fail(cudaErrorInvalidValue, "cudaGetDeviceProperties: null pointer");
  *properties = cudaDeviceProp{};
  std::strncpy(properties->name, "bioprop emulated CUDA device (on the CPU)", sizeof properties->name - 1);
  properties->totalGlobalMem = state().memory_size();
  properties->major = 9;
  properties->minor = 0;
  properties->warpSize = bioprop::emulation::warp_size;
  properties->maxThreadsPerBlock = 1024;
  properties->sharedMemPerBlock = 48 * 1024;
  properties->multiProcessorCount = 132;
  properties->maxGridSize[0] = 2147483647;
  properties->maxGridSize[1] = properties->maxGridSize[2] = 65535;
  properties->maxThreadsDim[0] = properties->maxThreadsDim[1] = 1024;
  properties->maxThreadsDim[2] = 64;
  properties->unifiedAddressing = 1;
  return cudaSuccess;
}

// The attributes of an H100 SXM (sm_90), which the emulated device stands in for: the benchmarks'
// roofline arithmetic runs on them, but no number measured on the emulated device is a GPU's.
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  EMULATED_CALL;
  if (const cudaError_t e = check_device_index(device, "cudaDeviceGetAttribute")) return e;
  if (!value) return state().fail(cudaErrorInvalidValue, "cudaDeviceGetAttribute: null pointer");
  switch (attribute) {
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      break;
    case cudaDevAttrMultiProcessorCount:
      *value = 132;
      break;
    case cudaDevAttrClockRate:
      *value = 1980000;
      break;  // kHz
    case cudaDevAttrMemoryClockRate:
      *value = 2619000;
      break;  // kHz
    case cudaDevAttrGlobalMemoryBusWidth:
      *value = 5120;
      break;
    case cudaDevAttrWarpSize:
      *value = bioprop::emulation::warp_size;
      break;
    case cudaDevAttrMaxThreadsPerBlock:
      *value = 1024;
      break;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = 48 * 1024;
      break;
    default:
      return state().fail(cudaErrorInvalidValue, "cudaDeviceGetAttribute: attribute " +
                                                     std::to_string(static_cast<int>(attribute)) + " is not emulated");
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  EMULATED_CALL;
  state().synchronize_all();
  return state().sticky();
}

// --- memory -----------------------------------------------------------------------------------------

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  EMULATED_CALL;
  if (!pointer) return state().fail(cudaErrorInvalidValue, "cudaMalloc: null pointer to the result");
  bool out_of_memory = false;
  *pointer = state().allocate(bytes, MemoryKind::device, &out_of_memory);
  if (out_of_memory)
    return state().fail(cudaErrorMemoryAllocation, "cudaMalloc(" + std::to_string(bytes) + " bytes) with " +
                                                       std::to_string(state().memory_size() - state().memory_in_use()) +
                                                       " of " + std::to_string(state().memory_size()) + " bytes free");
  return cudaSuccess;
}

// cudaFree synchronises the device first, as CUDA's does.
cudaError_t cudaFree(void* pointer) {
  EMULATED_CALL;
  if (pointer == nullptr) return cudaSuccess;
  state().synchronize_all();
  if (state().sticky() != cudaSuccess) return state().sticky();
  if (const std::string problem = state().release(pointer, MemoryKind::device); !problem.empty())
    return state().fail(cudaErrorInvalidValue, "cudaFree: " + problem);
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** pointer, size_t bytes, unsigned int flags) {
  EMULATED_CALL;
  if (!pointer) return state().fail(cudaErrorInvalidValue, "cudaHostAlloc: null pointer to the result");
  (void)flags;  // portable / mapped / write-combined: all the same ordinary memory here
  bool out_of_memory = false;
  *pointer = state().allocate(bytes, MemoryKind::pinned_host, &out_of_memory);
  if (out_of_memory)
    return state().fail(cudaErrorMemoryAllocation, "cudaHostAlloc(" + std::to_string(bytes) + " bytes)");
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** pointer, size_t bytes) { return cudaHostAlloc(pointer, bytes, cudaHostAllocDefault); }

cudaError_t cudaFreeHost(void* pointer) {
  EMULATED_CALL;
  if (pointer == nullptr) return cudaSuccess;
  state().synchronize_all();
  if (const std::string problem = state().release(pointer, MemoryKind::pinned_host); !problem.empty())
    return state().fail(cudaErrorInvalidValue, "cudaFreeHost: " + problem);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  EMULATED_CALL;
  if (!free_bytes || !total_bytes) return state().fail(cudaErrorInvalidValue, "cudaMemGetInfo: null pointer");
  *total_bytes = state().memory_size();
  *free_bytes = state().memory_size() - std::min(state().memory_in_use(), state().memory_size());
  return cudaSuccess;
}

// Pageable host memory is read when the call is made (CUDA stages it before returning) and written
// before a device-to-host copy returns (CUDA waits for it); pinned memory is read and written only when
// the copy runs, so reusing a staging buffer too early, or reading a result before synchronising,
// shows as wrong data.
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t handle) {
  EMULATED_CALL;
  CUstream_st* stream = live_stream(handle, "cudaMemcpyAsync");
  if (!stream) return cudaErrorInvalidResourceHandle;
  Side dst_side{}, src_side{};
  if (const cudaError_t e = check_copy("cudaMemcpyAsync", dst, src, count, kind, &dst_side, &src_side)) return e;
  if (count == 0) return cudaSuccess;
  const std::string what = "cudaMemcpyAsync of " + std::to_string(count) + " bytes";
  if (src_side == Side::host && !pinned(src)) {
    auto staged =
        std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + count);
    state().enqueue(stream, what, [dst, staged] { std::memcpy(dst, staged->data(), staged->size()); });
    return cudaSuccess;
  }
  state().enqueue(stream, what, [dst, src, count] { std::memmove(dst, src, count); });
  if (dst_side == Side::host && !pinned(dst)) state().synchronize(stream);
  return state().sticky();
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  {
    std::lock_guard lock(state().mutex);
    if (state().sticky() != cudaSuccess) return state().take_last_error(false);
  }
  if (const cudaError_t e = cudaMemcpyAsync(dst, src, count, kind, nullptr)) return e;
  std::lock_guard lock(state().mutex);
  state().synchronize(state().stream(nullptr));
  return state().sticky();
}

cudaError_t cudaMemsetAsync(void* pointer, int value, size_t count, cudaStream_t handle) {
  EMULATED_CALL;
  CUstream_st* stream = live_stream(handle, "cudaMemsetAsync");
  if (!stream) return cudaErrorInvalidResourceHandle;
  if (const std::string problem = state().check_device_range(pointer, count, "cudaMemsetAsync", "destination");
      !problem.empty())
    return state().fail(cudaErrorInvalidValue, problem);
  if (count == 0) return cudaSuccess;
  state().enqueue(stream, "cudaMemsetAsync of " + std::to_string(count) + " bytes",
                  [pointer, value, count] { std::memset(pointer, value, count); });
  return cudaSuccess;
}

// --- streams and events -----------------------------------------------------------------------------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* handle, unsigned int flags) {
  EMULATED_CALL;
  if (!handle) return state().fail(cudaErrorInvalidValue, "cudaStreamCreateWithFlags: null pointer");
  if (flags & ~static_cast<unsigned>(cudaStreamNonBlocking))
    return state().fail(cudaErrorInvalidValue, "cudaStreamCreateWithFlags: unknown flags " + std::to_string(flags));
  *handle = state().create_stream((flags & cudaStreamNonBlocking) != 0);
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* handle) { return cudaStreamCreateWithFlags(handle, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t handle) {
  EMULATED_CALL;
  CUstream_st* stream = handle == nullptr ? nullptr : live_stream(handle, "cudaStreamDestroy");
  if (!stream) return state().fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: not a created stream");
  state().destroy_stream(stream);
  return state().sticky();
}

cudaError_t cudaStreamSynchronize(cudaStream_t handle) {
  EMULATED_CALL;
  CUstream_st* stream = live_stream(handle, "cudaStreamSynchronize");
  if (!stream) return cudaErrorInvalidResourceHandle;
  state().synchronize(stream);
  return state().sticky();
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* handle, unsigned int flags) {
  EMULATED_CALL;
  if (!handle) return state().fail(cudaErrorInvalidValue, "cudaEventCreateWithFlags: null pointer");
  (void)flags;  // timing is not emulated; blocking sync and interprocess flags change nothing here
  *handle = state().create_event();
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* handle) { return cudaEventCreateWithFlags(handle, cudaEventDefault); }

cudaError_t cudaEventDestroy(cudaEvent_t handle) {
  EMULATED_CALL;
  CUevent_st* event = live_event(handle, "cudaEventDestroy");
  if (!event) return cudaErrorInvalidResourceHandle;
  state().destroy_event(event);
  return cudaSuccess;
}

// The event marks the work queued on the stream so far; a later record moves it.
cudaError_t cudaEventRecord(cudaEvent_t handle, cudaStream_t stream_handle) {
  EMULATED_CALL;
  CUevent_st* event = live_event(handle, "cudaEventRecord");
  CUstream_st* stream = event ? live_stream(stream_handle, "cudaEventRecord") : nullptr;
  if (!event || !stream) return cudaErrorInvalidResourceHandle;
  event->stream = stream;
  event->position = stream->enqueued;
  return cudaSuccess;
}

// The stream's later work waits (on the device) for the work the event marks now.
cudaError_t cudaStreamWaitEvent(cudaStream_t stream_handle, cudaEvent_t handle, unsigned int flags) {
  EMULATED_CALL;
  CUevent_st* event = live_event(handle, "cudaStreamWaitEvent");
  CUstream_st* stream = event ? live_stream(stream_handle, "cudaStreamWaitEvent") : nullptr;
  if (!event || !stream) return cudaErrorInvalidResourceHandle;
  if (flags != 0) return state().fail(cudaErrorInvalidValue, "cudaStreamWaitEvent: flags must be 0");
  if (event->stream == nullptr || event->stream == stream) return cudaSuccess;  // nothing to wait for
  state().enqueue(stream, "wait for an event", [other = event->stream, position = event->position] {
    DeviceState::get().run_until(other, position);
  });
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t handle) {
  EMULATED_CALL;
  CUevent_st* event = live_event(handle, "cudaEventSynchronize");
  if (!event) return cudaErrorInvalidResourceHandle;
  if (event->stream) state().run_until(event->stream, event->position);
  return state().sticky();
}

// Not ready while the marked work is queued; the query lets it run, so a polling loop ends.
cudaError_t cudaEventQuery(cudaEvent_t handle) {
  EMULATED_CALL;
  CUevent_st* event = live_event(handle, "cudaEventQuery");
  if (!event) return cudaErrorInvalidResourceHandle;
  if (!event->stream || event->stream->completed >= event->position) return cudaSuccess;
  state().run_until(event->stream, event->position);
  return cudaErrorNotReady;
}
