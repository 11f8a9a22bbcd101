#pragma once
// Keeps SIGINT and SIGTERM off the threads that compute. oneDNN's AVX-512 sgemm kernel points the stack
// pointer into heap memory while it runs (oneDNN issue #4845); a signal handler that runs on such a thread then
// writes its frame into the heap. While a ComputeThreadsShielded lives, the calling thread and the OpenMP worker
// threads that compute for it block both signals, so the kernel hands them to another thread (Linux prefers the
// main thread when it does not block them; StopOnSignals starts a thread of its own that takes them) or keeps
// them pending until the shield ends. The workers keep them blocked afterwards: they never need them.
#include <csignal>

namespace bioprop {

class ComputeThreadsShielded {
 public:
  ComputeThreadsShielded();   // blocks SIGINT and SIGTERM on the calling thread and its OpenMP workers
  ~ComputeThreadsShielded();  // the calling thread's signal mask as it was before
  ComputeThreadsShielded(const ComputeThreadsShielded&) = delete;
  ComputeThreadsShielded& operator=(const ComputeThreadsShielded&) = delete;

 private:
  sigset_t previous_mask_;
};

// SIGINT and SIGTERM, the signals a stop request comes from.
sigset_t stop_signals();

// True when the calling thread blocks both SIGINT and SIGTERM.
bool stop_signals_blocked_here();

}  // namespace bioprop
