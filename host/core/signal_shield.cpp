#include "bioprop/signal_shield.hpp"

#include <omp.h>
#include <pthread.h>

namespace bioprop {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

bool stop_signals_blocked_here() {
  sigset_t current;
  pthread_sigmask(SIG_BLOCK, nullptr, &current);
  return sigismember(&current, SIGINT) == 1 && sigismember(&current, SIGTERM) == 1;
}

ComputeThreadsShielded::ComputeThreadsShielded() {
  const sigset_t blocked = stop_signals();
  pthread_sigmask(SIG_BLOCK, &blocked, &previous_mask_);
  // The same team the engine's parallel loops and oneDNN use (libgomp keeps one pool per calling thread);
  // workers it starts later are started by this thread and inherit its mask while the shield lives.
#pragma omp parallel num_threads(omp_get_max_threads())
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
}

ComputeThreadsShielded::~ComputeThreadsShielded() { pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr); }

}  // namespace bioprop
