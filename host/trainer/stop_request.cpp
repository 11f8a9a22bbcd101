#include "bioprop/stop_request.hpp"

#include <unistd.h>

#include <csignal>
#include <cstring>

namespace bioprop {

namespace {
volatile std::sig_atomic_t requested = 0;
struct sigaction previous_interrupt, previous_terminate;

// Only async-signal-safe calls here: write(2) and _exit(2).
extern "C" void on_stop_signal(int signal) {
  if (requested != 0) _exit(128 + signal);
  requested = signal;
  const char message[] =
      "\nbioprop: stopping after this step and writing a checkpoint (signal again to quit at once)\n";
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, message, sizeof message - 1);
}
}  // namespace

StopOnSignals::StopOnSignals() {
  requested = 0;
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a read or write in progress goes on rather than failing with EINTR
  sigaction(SIGINT, &action, &previous_interrupt);
  sigaction(SIGTERM, &action, &previous_terminate);
}

StopOnSignals::~StopOnSignals() {
  sigaction(SIGINT, &previous_interrupt, nullptr);
  sigaction(SIGTERM, &previous_terminate, nullptr);
}

int stop_requested() { return requested; }
void request_stop(int signal) { requested = signal; }
void clear_stop_request() { requested = 0; }

}  // namespace bioprop
