#include "bioprop/stop_request.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "bioprop/error.hpp"

namespace bioprop {

namespace {
// Written by the handler on the listener thread, read by the training loop on another: a lock-free atomic
// (async-signal-safe) rather than a volatile sig_atomic_t, which orders nothing between threads.
std::atomic<int> requested{0};
static_assert(std::atomic<int>::is_always_lock_free);
struct sigaction previous_interrupt, previous_terminate;

// Only async-signal-safe calls here: write(2) and _exit(2).
extern "C" void on_stop_signal(int signal) {
  if (requested.load() != 0) _exit(128 + signal);
  const char message[] =
      "\nbioprop: stopping after this step and writing a checkpoint (signal again to quit at once)\n";
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, message, sizeof message - 1);
  requested.store(signal);  // after the message: whoever sees the request sees the message written
}
}  // namespace

// A thread that only waits, with SIGINT and SIGTERM unblocked, so that the kernel has a thread outside the
// computation to run the handler on (every compute thread blocks them).
struct StopOnSignals::Listener {
  int wake = eventfd(0, EFD_CLOEXEC);
  std::thread thread;

  Listener() {
    if (wake < 0) fail("bioprop: eventfd for the stop-signal listener failed: {}", std::strerror(errno));
    thread = std::thread([fd = wake] {
      const sigset_t signals = stop_signals();
      pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
      pollfd waiting{fd, POLLIN, 0};
      while (poll(&waiting, 1, -1) < 0 && errno == EINTR) {
      }  // a handler ran here: wait on
    });
  }
  ~Listener() {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = write(wake, &one, sizeof one);
    thread.join();
    close(wake);
  }
};

StopOnSignals::StopOnSignals() {
  requested.store(0);
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a read or write in progress goes on rather than failing with EINTR
  sigaction(SIGINT, &action, &previous_interrupt);
  sigaction(SIGTERM, &action, &previous_terminate);
  shield_.emplace();
  listener_ = std::make_unique<Listener>();
}

StopOnSignals::~StopOnSignals() {
  listener_.reset();
  shield_.reset();  // a signal that came meanwhile is delivered now, to on_stop_signal
  sigaction(SIGINT, &previous_interrupt, nullptr);
  sigaction(SIGTERM, &previous_terminate, nullptr);
}

int stop_requested() { return requested.load(); }
void request_stop(int signal) { requested.store(signal); }
void clear_stop_request() { requested.store(0); }

}  // namespace bioprop
