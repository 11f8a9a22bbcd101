#pragma once
// Sending a stop signal the way a terminal or `kill` does: to the process, not to one thread. While a
// StopOnSignals lives, every compute thread blocks SIGINT and SIGTERM and its listener thread takes them, so
// the request is recorded a moment later, on another thread.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "bioprop/stop_request.hpp"

namespace bioprop::testing {

// Waits up to a second for the handler to record a request.
inline bool stop_recorded_within_a_second() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (stop_requested() == 0) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

// kill(2) to this process, then the wait above.
inline bool send_stop_signal(int signal) {
  kill(getpid(), signal);
  return stop_recorded_within_a_second();
}

}  // namespace bioprop::testing
