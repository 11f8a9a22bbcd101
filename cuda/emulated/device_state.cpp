#include "device_state.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace bioprop::emulated {

namespace {
thread_local cudaError_t last_error = cudaSuccess;

// 16 GiB unless BIOPROP_EMULATED_DEVICE_MEMORY_MIB says otherwise; tests lower it to reach out of memory.
size_t initial_memory_size() {
  if (const char* mib = std::getenv("BIOPROP_EMULATED_DEVICE_MEMORY_MIB"))
    if (const long long value = std::atoll(mib); value > 0) return static_cast<size_t>(value) << 20;
  return size_t{16} << 30;
}

const char* error_name(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorNotReady:
      return "device not ready";
    case cudaErrorIllegalAddress:
      return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure";
    case cudaErrorInsufficientDriver:
      return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected";
    default:
      return "unknown error";
  }
}
}  // namespace

std::string pointer_text(const void* p) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", p);
  return text;
}

DeviceState& DeviceState::get() {
  static DeviceState* state = new DeviceState;  // never destroyed: tensors may be freed at static teardown
  return *state;
}

// Kernel launches go to the streams from the moment the device is first used (CUDA, too, creates its
// context lazily); kernel tests that never touch the device run their launches at once.
DeviceState::DeviceState() : memory_size_(initial_memory_size()) { emulation::set_launch_queue(&queue_kernel); }

cudaError_t DeviceState::fail(cudaError_t error, const std::string& detail) {
  details_[error] = detail;
  last_error = error;
  return error;
}

cudaError_t DeviceState::fault(cudaError_t error, const std::string& detail) {
  if (sticky_ == cudaSuccess) {
    sticky_ = error;
    details_[error] = detail + " (a device fault: every later CUDA call fails with it)";
  }
  last_error = sticky_;
  return sticky_;
}

cudaError_t DeviceState::take_last_error(bool reset) {
  const cudaError_t error = sticky_ != cudaSuccess ? sticky_ : last_error;
  if (reset) last_error = cudaSuccess;
  return error;
}

const char* DeviceState::describe(cudaError_t error) {
  const auto detail = details_.find(error);
  if (detail == details_.end()) return error_name(error);
  described_.push_back(std::string(error_name(error)) + " [emulated device: " + detail->second + "]");
  return described_.back().c_str();
}

void* DeviceState::allocate(size_t bytes, MemoryKind kind, bool* out_of_memory) {
  *out_of_memory = kind == MemoryKind::device && bytes > memory_size_ - std::min(in_use_, memory_size_);
  if (*out_of_memory) return nullptr;
  void* p = nullptr;
  // The exact size, so AddressSanitizer sees an overrun past the end of an allocation.
  if (posix_memalign(&p, 256, std::max<size_t>(bytes, 1)) != 0) {
    *out_of_memory = true;
    return nullptr;
  }
  // Fresh device memory holds NaNs (0xFF bytes), not zeros: a kernel that reads what nobody wrote
  // shows in its results. Pinned host memory is ordinary malloc memory, as on a real machine.
  if (kind == MemoryKind::device) std::memset(p, 0xFF, bytes);
  const auto base = reinterpret_cast<uintptr_t>(p);
  // Freed records that this block now overlaps are forgotten.
  for (auto it = allocations_.lower_bound(base); it != allocations_.end() && it->first < base + bytes;)
    it = it->second.live ? std::next(it) : allocations_.erase(it);
  if (auto before = allocations_.lower_bound(base); before != allocations_.begin()) {
    --before;
    if (!before->second.live && before->first + before->second.bytes > base) allocations_.erase(before);
  }
  allocations_[base] = {bytes, kind, true};
  if (kind == MemoryKind::device) in_use_ += bytes;
  return p;
}

std::string DeviceState::release(void* p, MemoryKind kind) {
  const char* what = kind == MemoryKind::device ? "device" : "pinned host";
  const auto it = allocations_.find(reinterpret_cast<uintptr_t>(p));
  if (it == allocations_.end()) {
    const Lookup inside = find(p, 1);
    if (inside.allocation && inside.allocation->live)
      return pointer_text(p) + " points inside an allocation, not at its start";
    return pointer_text(p) + " is not a " + std::string(what) + " allocation";
  }
  if (!it->second.live) return pointer_text(p) + " was already freed (double free)";
  if (it->second.kind != kind)
    return pointer_text(p) + " is " + (kind == MemoryKind::device ? "pinned host" : "device") + " memory, not " + what +
           " memory";
  std::free(p);
  it->second.live = false;
  if (kind == MemoryKind::device) in_use_ -= it->second.bytes;
  return {};
}

Lookup DeviceState::find(const void* p, size_t bytes) const {
  const auto address = reinterpret_cast<uintptr_t>(p);
  auto it = allocations_.upper_bound(address);
  if (it == allocations_.begin()) return {};
  --it;
  if (address >= it->first + std::max<size_t>(it->second.bytes, 1)) return {};
  return {&it->second, it->first, address + bytes <= it->first + it->second.bytes};
}

bool DeviceState::is_device_pointer(const void* p) const {
  const Lookup l = find(p, 0);
  return l.allocation && l.allocation->live && l.allocation->kind == MemoryKind::device;
}

std::string DeviceState::check_device_range(const void* p, size_t bytes, const std::string& call,
                                            const std::string& operand) const {
  if (bytes == 0) return {};
  const Lookup l = find(p, bytes);
  const std::string where = call + ": " + operand + " (" + pointer_text(p) + ", " + std::to_string(bytes) + " bytes)";
  if (p == nullptr) return where + " is a null pointer";
  if (!l.allocation) return where + " is host memory, not device memory";
  if (!l.allocation->live) return where + " is in freed device memory (use after free)";
  if (l.allocation->kind != MemoryKind::device) return where + " is pinned host memory, not device memory";
  if (!l.fits)
    return where + " runs past the end of its " + std::to_string(l.allocation->bytes) + "-byte allocation at offset " +
           std::to_string(reinterpret_cast<uintptr_t>(p) - l.base);
  return {};
}

CUstream_st* DeviceState::stream(cudaStream_t handle) {
  if (handle == nullptr || handle == cudaStreamLegacy || handle == cudaStreamPerThread) return &legacy_;
  return streams_.count(handle) ? handle : nullptr;
}

CUstream_st* DeviceState::create_stream(bool non_blocking) {
  auto* s = new CUstream_st;
  s->non_blocking = non_blocking;
  streams_.insert(s);
  return s;
}

// CUDA lets a stream be destroyed with work queued (it finishes first); so does the emulation.
void DeviceState::destroy_stream(CUstream_st* s) {
  synchronize(s);
  streams_.erase(s);
  for (CUevent_st* e : events_)
    if (e->stream == s) e->stream = nullptr;  // its work has run: waiting on it returns at once
  delete s;
}

CUevent_st* DeviceState::event(cudaEvent_t handle) { return events_.count(handle) ? handle : nullptr; }

CUevent_st* DeviceState::create_event() {
  auto* e = new CUevent_st;
  events_.insert(e);
  return e;
}

void DeviceState::destroy_event(CUevent_st* e) {
  events_.erase(e);
  delete e;
}

void DeviceState::enqueue(CUstream_st* s, std::string what, std::function<void()> run) {
  // The legacy stream waits for all blocking streams' earlier work, and they wait for its.
  const auto wait_for = [&](CUstream_st* other) {
    if (other->enqueued == other->completed) return;
    s->pending.push_back({"implicit wait between the legacy default stream and a blocking stream",
                          [this, other, position = other->enqueued] { run_until(other, position); }});
    ++s->enqueued;
  };
  if (s == &legacy_) {
    for (CUstream_st* other : streams_)
      if (!other->non_blocking) wait_for(other);
  } else if (!s->non_blocking) {
    wait_for(&legacy_);
  }
  s->pending.push_back({std::move(what), std::move(run)});
  ++s->enqueued;
}

void DeviceState::run_until(CUstream_st* s, uint64_t position) {
  while (s->completed < position && !s->pending.empty()) {
    CUstream_st::Operation op = std::move(s->pending.front());
    s->pending.pop_front();
    ++s->completed;
    if (sticky_ != cudaSuccess) continue;  // a faulted device runs nothing more
    try {
      op.run();
    } catch (const std::exception& e) {
      fault(cudaErrorLaunchFailure, op.what + ": " + e.what());
    }
  }
}

void DeviceState::synchronize_all() {
  synchronize(&legacy_);
  for (CUstream_st* s : std::vector<CUstream_st*>(streams_.begin(), streams_.end())) synchronize(s);
}

size_t DeviceState::pending_operations() const {
  size_t pending = legacy_.pending.size();
  for (const CUstream_st* s : streams_) pending += s->pending.size();
  return pending;
}

}  // namespace bioprop::emulated
