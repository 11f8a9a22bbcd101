#pragma once
// Stacks for the emulation's fibers: mmap'd, with a guard page below so a kernel that overflows its
// stack faults instead of writing into its neighbour's. Reused from launch to launch.
#include <cstddef>

namespace bioprop::emulation {

class FiberStack {
 public:
  explicit FiberStack(size_t usable_bytes);
  ~FiberStack();
  FiberStack(FiberStack&& other) noexcept;
  FiberStack& operator=(FiberStack&&) = delete;
  FiberStack(const FiberStack&) = delete;

  void* bottom() const { return bottom_; }  // lowest usable address
  void* top() const { return static_cast<char*>(bottom_) + size_; }
  size_t size() const { return size_; }

 private:
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  void* bottom_ = nullptr;
  size_t size_ = 0;
};

}  // namespace bioprop::emulation
