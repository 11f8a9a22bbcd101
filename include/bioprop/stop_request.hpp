#pragma once
// Stopping a training run safely. While a StopOnSignals lives (`bioprop train` holds one), the first
// SIGINT (Ctrl-C) or SIGTERM only records a request: the epoch loop finishes the current step, writes
// a checkpoint that holds the position in the epoch, and returns interrupted. A second signal ends the
// process at once with status 128 + signal; checkpoints are written to a temporary file and renamed,
// so the last good one is never touched by that.
//
// The handler never runs on a thread that computes (signal_shield.hpp says why): the calling thread and its
// OpenMP workers block both signals while a StopOnSignals lives, and a thread of its own, which does nothing
// else, takes them.
#include <memory>
#include <optional>

#include "bioprop/signal_shield.hpp"

namespace bioprop {

class StopOnSignals {
 public:
  StopOnSignals();   // installs the handlers, shields the compute threads, starts the listener, clears any request
  ~StopOnSignals();  // stops the listener, unshields (a pending signal is recorded), restores the earlier handlers
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  struct Listener;
  std::optional<ComputeThreadsShielded> shield_;
  std::unique_ptr<Listener> listener_;
};

// The signal that asked the run to stop, or 0.
int stop_requested();
// Asks the run to stop as a signal would (also without handlers installed).
void request_stop(int signal);
void clear_stop_request();

}  // namespace bioprop
