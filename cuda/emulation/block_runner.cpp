#include "block_runner.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "sanitizer_fibers.hpp"

namespace bioprop::emulation {

namespace fc = boost::context::detail;

namespace {
// Kernels keep a few locals; the sanitizers' redzones and fake frames need more. Pages are committed
// only when touched (MAP_NORESERVE).
#if defined(BIOPROP_EMULATION_ASAN) || defined(BIOPROP_EMULATION_TSAN)
constexpr size_t fiber_stack_bytes = 512 * 1024;
#else
constexpr size_t fiber_stack_bytes = 128 * 1024;
#endif

}  // namespace

BlockRunner& this_thread_runner() {
  thread_local BlockRunner runner;
  return runner;
}

unsigned BlockRunner::lanes_in_warp(unsigned warp) const {
  return std::min<unsigned>(warp_size, threads_in_block_ - warp * warp_size);
}

void BlockRunner::run(const KernelLaunch& launch, dim3 block_index) {
  launch_ = &launch;
  block_index_ = block_index;
  threads_in_block_ = launch.block.x * launch.block.y * launch.block.z;
  const unsigned warps = (threads_in_block_ + warp_size - 1) / warp_size;
  threads_.assign(threads_in_block_, CudaThread{});  // never reallocated while the block runs
  runnable_.clear();
  block_arrived_ = 0;
  done_ = 0;
  warp_arrived_.assign(warps, 0);
  warp_slots_.assign(warps, {});
  dynamic_shared_.assign(launch.shared_bytes, std::byte{0});
  error_ = nullptr;
  if (!scheduler_tsan_fiber_) scheduler_tsan_fiber_ = sanitizers::current_fiber();  // this OS thread's own
  sanitizers::release(&block_started_);

  unsigned started = 0;
  while (done_ < threads_in_block_) {
    CudaThread* next = nullptr;
    if (!runnable_.empty()) {
      next = &threads_[runnable_.front()];
      runnable_.pop_front();
    } else if (started < threads_in_block_) {
      next = &start(started++);
    } else {
      finish_block();
      report_stuck_barrier();
    }
    resume(*next);
    after_switch(*next);
  }
  finish_block();
}

BlockRunner::CudaThread& BlockRunner::start(unsigned linear) {
  const sanitizers::IgnoreBookkeeping ignore;
  CudaThread& thread = threads_[linear];
  const dim3 block = launch_->block;
  thread.where = {dim3(linear % block.x, linear / block.x % block.y, linear / (block.x * block.y)), block_index_, block,
                  launch_->grid, linear};
  if (free_stacks_.empty()) {
    stacks_.emplace_back(fiber_stack_bytes);
    free_stacks_.push_back(stacks_.size() - 1);
  }
  thread.stack = free_stacks_.back();
  free_stacks_.pop_back();
  const FiberStack& stack = stacks_[thread.stack];
  sanitizers::unpoison(stack.bottom(), stack.size());
  thread.context = fc::make_fcontext(stack.top(), stack.size(), &BlockRunner::entry);
  // One TSan fiber per thread index, kept from block to block (creating one is costly); threads of one
  // block never share one.
  if (tsan_fibers_.size() <= linear) tsan_fibers_.resize(linear + 1, nullptr);
  if (!tsan_fibers_[linear]) tsan_fibers_[linear] = sanitizers::create_fiber();
  thread.tsan_fiber = tsan_fibers_[linear];
  thread.state = State::ready;
  return thread;
}

void BlockRunner::resume(CudaThread& thread) {
  fc::fcontext_t target = nullptr;
  void* tsan_fiber = nullptr;
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  {
    const sanitizers::IgnoreBookkeeping ignore;
    running_ = &thread;
    context = thread.where;
    target = thread.context;
    tsan_fiber = thread.tsan_fiber;
    stack_bottom = stacks_[thread.stack].bottom();
    stack_size = stacks_[thread.stack].size();
  }
  sanitizers::start_switch(&scheduler_fake_stack_, stack_bottom, stack_size);
  sanitizers::switch_to_fiber(tsan_fiber);
  const fc::transfer_t back = fc::jump_fcontext(target, &thread);
  sanitizers::finish_switch(scheduler_fake_stack_, nullptr, nullptr);
  const sanitizers::IgnoreBookkeeping ignore;
  thread.context = back.fctx;
  running_ = nullptr;
}

void BlockRunner::entry(fc::transfer_t from) {
  BlockRunner& runner = this_thread_runner();
  sanitizers::acquire(&runner.block_started_);
  {
    const sanitizers::IgnoreBookkeeping ignore;
    runner.scheduler_context_ = from.fctx;
  }
  sanitizers::finish_switch(nullptr, &runner.scheduler_stack_bottom_, &runner.scheduler_stack_size_);
  CudaThread& thread = *static_cast<CudaThread*>(from.data);
  try {
    runner.launch_->body();
  } catch (...) {
    runner.error_ = std::current_exception();
  }
  {
    const sanitizers::IgnoreBookkeeping ignore;
    thread.state = State::done;
  }
  sanitizers::release(&runner.block_finished_);
  runner.suspend();
  std::abort();  // a finished thread is never resumed
}

void BlockRunner::suspend() {
  CudaThread* thread = nullptr;
  bool finished = false;
  fc::fcontext_t target = nullptr;
  void* scheduler_fiber = nullptr;
  {
    const sanitizers::IgnoreBookkeeping ignore;
    thread = running_;
    finished = thread->state == State::done;
    target = scheduler_context_;
    scheduler_fiber = scheduler_tsan_fiber_;
  }
  sanitizers::start_switch(finished ? nullptr : &thread->asan_fake_stack, scheduler_stack_bottom_,
                           scheduler_stack_size_);
  sanitizers::switch_to_fiber(scheduler_fiber);
  const fc::transfer_t back = fc::jump_fcontext(target, nullptr);
  {
    const sanitizers::IgnoreBookkeeping ignore;
    scheduler_context_ = back.fctx;
  }
  sanitizers::finish_switch(thread->asan_fake_stack, &scheduler_stack_bottom_, &scheduler_stack_size_);
}

void BlockRunner::wait(State state, const void* barrier) {
  {
    const sanitizers::IgnoreBookkeeping ignore;
    running_->state = state;
  }
  sanitizers::release(barrier);
  suspend();
  sanitizers::acquire(barrier);
}

void BlockRunner::wait_at_block_barrier() { wait(State::at_block_barrier, &block_barrier_); }

void BlockRunner::wait_at_warp_barrier() {
  const void* barrier = nullptr;
  {
    const sanitizers::IgnoreBookkeeping ignore;
    barrier = &warp_arrived_[running_->where.linear_thread / warp_size];
  }
  wait(State::at_warp_barrier, barrier);
}

uint64_t* BlockRunner::warp_slots() {
  const sanitizers::IgnoreBookkeeping ignore;
  return warp_slots_[running_->where.linear_thread / warp_size].data();
}

void BlockRunner::after_switch(CudaThread& thread) {
  const sanitizers::IgnoreBookkeeping ignore;
  if (error_) {
    finish_block();
    std::rethrow_exception(std::exchange(error_, nullptr));
  }
  switch (thread.state) {
    case State::done:
      ++done_;
      // Under ThreadSanitizer a stack is reused only by a later block (ordered through run()): a thread
      // of the same block on it would look ordered after this one, hiding their races.
      (sanitizers::thread_sanitizer ? stacks_after_block_ : free_stacks_).push_back(thread.stack);
      break;
    case State::at_block_barrier:
      if (++block_arrived_ == threads_in_block_) {
        block_arrived_ = 0;
        release_waiting(State::at_block_barrier, 0);
      }
      break;
    case State::at_warp_barrier: {
      const unsigned warp = thread.where.linear_thread / warp_size;
      if (++warp_arrived_[warp] == lanes_in_warp(warp)) {
        warp_arrived_[warp] = 0;
        release_waiting(State::at_warp_barrier, warp);
      }
      break;
    }
    case State::ready:
      break;
  }
}

void BlockRunner::release_waiting(State state, unsigned warp) {
  const unsigned first = state == State::at_warp_barrier ? warp * warp_size : 0;
  const unsigned last = state == State::at_warp_barrier ? first + lanes_in_warp(warp) : threads_in_block_;
  for (unsigned t = first; t < last; ++t)
    if (threads_[t].state == state) {
      threads_[t].state = State::ready;
      runnable_.push_back(t);
    }
}

// Threads that will never run again give their stacks back (their frames are abandoned: a kernel
// thread's locals are plain values).
void BlockRunner::finish_block() {
  const sanitizers::IgnoreBookkeeping ignore;
  free_stacks_.insert(free_stacks_.end(), stacks_after_block_.begin(), stacks_after_block_.end());
  stacks_after_block_.clear();
  for (CudaThread& thread : threads_)
    if (thread.state != State::done && thread.context != nullptr) {
      free_stacks_.push_back(thread.stack);
      // An abandoned thread (an error stopped the block) never reaches its end: what it did is ordered
      // before what follows as if it had.
      sanitizers::release_as(thread.tsan_fiber, &block_finished_, scheduler_tsan_fiber_);
      thread.state = State::done;
    }
  sanitizers::acquire(&block_finished_);
}

void BlockRunner::report_stuck_barrier() const {
  unsigned at_warp = 0;
  for (unsigned arrived : warp_arrived_) at_warp += arrived;
  throw std::runtime_error(fmt::format(
      "emulated kernel {}, block ({}, {}, {}) of {} threads: {} wait at __syncthreads() and {} at a warp shuffle "
      "that the other threads never reach (they returned): on a GPU this hangs or is undefined",
      launch_->name, block_index_.x, block_index_.y, block_index_.z, threads_in_block_, block_arrived_, at_warp));
}

}  // namespace bioprop::emulation
