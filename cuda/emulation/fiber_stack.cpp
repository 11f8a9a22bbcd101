#include "fiber_stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <utility>

namespace bioprop::emulation {

FiberStack::FiberStack(size_t usable_bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_ = (usable_bytes + page - 1) / page * page;
  mapping_bytes_ = size_ + page;
  mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping_ == MAP_FAILED) throw std::bad_alloc();
  mprotect(mapping_, page, PROT_NONE);  // the guard page: stacks grow down into it
  bottom_ = static_cast<char*>(mapping_) + page;
}

FiberStack::~FiberStack() {
  if (mapping_) munmap(mapping_, mapping_bytes_);
}

FiberStack::FiberStack(FiberStack&& other) noexcept
    : mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_bytes_(other.mapping_bytes_),
      bottom_(other.bottom_),
      size_(other.size_) {}

}  // namespace bioprop::emulation
