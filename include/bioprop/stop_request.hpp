#pragma once
// Stopping a training run safely. While a StopOnSignals lives (`bioprop train` holds one), the first
// SIGINT (Ctrl-C) or SIGTERM only records a request: the epoch loop finishes the current step, writes
// a checkpoint that holds the position in the epoch, and returns interrupted. A second signal ends the
// process at once with status 128 + signal; checkpoints are written to a temporary file and renamed,
// so the last good one is never touched by that.
namespace bioprop {

class StopOnSignals {
 public:
  StopOnSignals();   // installs the handlers and clears any earlier request
  ~StopOnSignals();  // restores the handlers that were there before
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;
};

// The signal that asked the run to stop, or 0.
int stop_requested();
// Asks the run to stop as a signal would (also without handlers installed).
void request_stop(int signal);
void clear_stop_request();

}  // namespace bioprop
