#pragma once
// What AddressSanitizer and ThreadSanitizer must be told when the emulation switches stacks, so they
// keep working over fibers (their "implementing your own fiber library" interfaces). Without the
// sanitizers every function here is empty.
//
// ThreadSanitizer: each CUDA thread is a TSan fiber and every switch is declared "no sync", so two
// CUDA threads of a block are ordered only by what a GPU orders them with: the barriers (release on
// arrival, acquire on leaving). A shared-memory race inside a block is then reported as a data race.
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define BIOPROP_EMULATION_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define BIOPROP_EMULATION_TSAN 1
// ThreadSanitizer's dynamic annotations (exported by libtsan; no header declares them).
extern "C" void AnnotateIgnoreReadsBegin(const char* file, int line);
extern "C" void AnnotateIgnoreReadsEnd(const char* file, int line);
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
#endif

namespace bioprop::emulation::sanitizers {

#if defined(BIOPROP_EMULATION_TSAN)
constexpr bool thread_sanitizer = true;
#else
constexpr bool thread_sanitizer = false;
#endif

// AddressSanitizer: before a switch, the stack being entered; after it, the one left.
inline void start_switch(void** fake_stack_save, const void* bottom, size_t size) {
#if defined(BIOPROP_EMULATION_ASAN)
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}
inline void finish_switch(void* fake_stack_save, const void** bottom_old, size_t* size_old) {
#if defined(BIOPROP_EMULATION_ASAN)
  __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#else
  (void)fake_stack_save, (void)bottom_old, (void)size_old;
#endif
}
// A reused stack may keep the poisoned redzones of a frame that never returned (a finished fiber's
// entry frame).
inline void unpoison(void* bottom, size_t size) {
#if defined(BIOPROP_EMULATION_ASAN)
  __asan_unpoison_memory_region(bottom, size);
#else
  (void)bottom, (void)size;
#endif
}

inline void* current_fiber() {
#if defined(BIOPROP_EMULATION_TSAN)
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}
inline void* create_fiber() {
#if defined(BIOPROP_EMULATION_TSAN)
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}

inline void switch_to_fiber(void* fiber) {
#if defined(BIOPROP_EMULATION_TSAN)
  __tsan_switch_to_fiber(fiber, __tsan_switch_to_fiber_no_sync);
#else
  (void)fiber;
#endif
}
inline void release(const void* sync_object) {
#if defined(BIOPROP_EMULATION_TSAN)
  __tsan_release(const_cast<void*>(sync_object));
#else
  (void)sync_object;
#endif
}
// A release on behalf of `fiber` (TSan's current fiber is switched, not the stack), from `self`.
inline void release_as(void* fiber, const void* sync_object, void* self) {
#if defined(BIOPROP_EMULATION_TSAN)
  __tsan_switch_to_fiber(fiber, __tsan_switch_to_fiber_no_sync);
  __tsan_release(const_cast<void*>(sync_object));
  __tsan_switch_to_fiber(self, __tsan_switch_to_fiber_no_sync);
#else
  (void)fiber, (void)sync_object, (void)self;
#endif
}
inline void acquire(const void* sync_object) {
#if defined(BIOPROP_EMULATION_TSAN)
  __tsan_acquire(const_cast<void*>(sync_object));
#else
  (void)sync_object;
#endif
}

// The scheduler's own bookkeeping (which thread runs, its state, the CUDA thread context), shared by
// run() and the fibers: ordered by the switches, which ThreadSanitizer is told carry no order (so that
// CUDA threads are ordered only by barriers), so its accesses are hidden from it. A scope never spans
// a switch: TSan keeps the ignore count per fiber.
class IgnoreBookkeeping {
 public:
#if defined(BIOPROP_EMULATION_TSAN)
  IgnoreBookkeeping() {
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  }
  ~IgnoreBookkeeping() {
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  }
#else
  IgnoreBookkeeping() {}  // user-provided: no "unused variable" for the scopes that declare one
#endif
  IgnoreBookkeeping(const IgnoreBookkeeping&) = delete;
  IgnoreBookkeeping& operator=(const IgnoreBookkeeping&) = delete;
};

}  // namespace bioprop::emulation::sanitizers
