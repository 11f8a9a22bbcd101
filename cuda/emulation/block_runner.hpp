#pragma once
// Runs one block of an emulated kernel on the calling OS thread: each CUDA thread is a fiber
// (Boost.Context's fcontext) that runs until it returns or waits at a barrier. Threads start one after
// another, so a kernel without barriers is a loop over its threads on one reused stack; at a barrier
// the next thread starts, and when the last one arrives the waiting ones resume in thread order.
#include <boost/context/detail/fcontext.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <vector>

#include "bioprop/cuda_emulation.hpp"
#include "fiber_stack.hpp"

namespace bioprop::emulation {

class BlockRunner {
 public:
  // Throws std::runtime_error naming the kernel and block when a barrier cannot be passed (a thread
  // returned while others wait at it); rethrows what a kernel thread threw.
  void run(const KernelLaunch& launch, dim3 block_index);

  // Called from inside a kernel thread.
  void wait_at_block_barrier();
  void wait_at_warp_barrier();
  uint64_t* warp_slots();
  void* dynamic_shared() { return dynamic_shared_.data(); }

 private:
  enum class State { ready, at_block_barrier, at_warp_barrier, done };
  struct CudaThread {
    ThreadContext where;
    boost::context::detail::fcontext_t context = nullptr;
    size_t stack = 0;
    State state = State::ready;
    void* tsan_fiber = nullptr;
    void* asan_fake_stack = nullptr;
  };

  static void entry(boost::context::detail::transfer_t from);
  CudaThread& start(unsigned linear);
  void resume(CudaThread& thread);
  void suspend();  // from the running kernel thread back to run()
  void wait(State state, const void* barrier);
  void after_switch(CudaThread& thread);
  void release_waiting(State state, unsigned warp);
  void finish_block();
  [[noreturn]] void report_stuck_barrier() const;
  unsigned lanes_in_warp(unsigned warp) const;

  const KernelLaunch* launch_ = nullptr;
  dim3 block_index_;
  unsigned threads_in_block_ = 0, done_ = 0;
  std::vector<CudaThread> threads_;
  std::deque<unsigned> runnable_;
  unsigned block_arrived_ = 0;
  std::vector<unsigned> warp_arrived_;
  std::vector<std::array<uint64_t, warp_size>> warp_slots_;
  std::vector<std::byte> dynamic_shared_;
  std::exception_ptr error_;

  std::vector<FiberStack> stacks_;
  std::vector<size_t> free_stacks_, stacks_after_block_;

  CudaThread* running_ = nullptr;
  boost::context::detail::fcontext_t scheduler_context_ = nullptr;
  const void* scheduler_stack_bottom_ = nullptr;
  size_t scheduler_stack_size_ = 0;
  void* scheduler_fake_stack_ = nullptr;
  void* scheduler_tsan_fiber_ = nullptr;
  std::vector<void*> tsan_fibers_;                                   // by thread index
  char block_started_ = 0, block_barrier_ = 0, block_finished_ = 0;  // sanitizer sync objects
};

// The runner of the calling OS thread.
BlockRunner& this_thread_runner();

}  // namespace bioprop::emulation
