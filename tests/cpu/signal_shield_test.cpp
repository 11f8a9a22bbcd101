// Stop signals never run a handler on a compute thread (include/bioprop/signal_shield.hpp): oneDNN's AVX-512
// sgemm points the stack pointer into the heap while it runs (oneDNN issue #4845), and a handler's frame then
// lands there. Without the shield, the storm below aborted with "corrupted size vs. prev_size" within a
// fraction of a second on the development machine.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "bioprop/signal_shield.hpp"
#include "bioprop/stop_request.hpp"
#include "cpu/sgemm.hpp"
#include "stop_signal.hpp"

using namespace bioprop;
using bioprop::testing::stop_recorded_within_a_second;

namespace {

// stderr to /dev/null while it lives: the handler writes a line for every signal.
class QuietStderr {
 public:
  QuietStderr() : saved_(dup(STDERR_FILENO)) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO);
    close(null);
  }
  ~QuietStderr() {
    dup2(saved_, STDERR_FILENO);
    close(saved_);
  }

 private:
  int saved_;
};

}  // namespace

TEST(ComputeThreadsShielded, EveryThreadOfTheTeamBlocksTheStopSignals) {
  omp_set_num_threads(4);  // more threads than this machine's cores: the pool has several workers
  ASSERT_FALSE(stop_signals_blocked_here());
  {
    const ComputeThreadsShielded shield;
    std::atomic<int> blocked{0}, threads{0};
#pragma omp parallel
    {
      threads.fetch_add(1);
      if (stop_signals_blocked_here()) blocked.fetch_add(1);
    }
    EXPECT_EQ(threads.load(), 4);
    EXPECT_EQ(blocked.load(), 4);
  }
  EXPECT_FALSE(stop_signals_blocked_here()) << "the calling thread's mask is not back as it was";
}

TEST(StopOnSignals, ASignalIsRecordedWhileTheCallingThreadBlocksIt) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGTERM, &ignore, nullptr);
  {
    const StopOnSignals stopping;
    const QuietStderr quiet;
    EXPECT_TRUE(stop_signals_blocked_here());
    EXPECT_TRUE(bioprop::testing::send_stop_signal(SIGTERM)) << "no thread took SIGTERM";
    EXPECT_EQ(stop_requested(), SIGTERM);
  }
  EXPECT_FALSE(stop_signals_blocked_here());
  struct sigaction now {};
  sigaction(SIGTERM, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_IGN) << "the handler that was there before is not back";
  clear_stop_request();
  sigaction(SIGTERM, &now, nullptr);
}

TEST(StopOnSignals, OneDnnSgemmSurvivesASignalStorm) {
  omp_set_num_threads(2);
  const int m = 128, n = 500, k = 800;
  std::vector<float> a(m * k), b(k * n), expected(m * n), c(m * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) * 0.1f - 0.3f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 5) * 0.1f - 0.2f;
  sgemm(CpuGemm::onednn, false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, expected.data(), n);

  const StopOnSignals stopping;
  const QuietStderr quiet;
  std::atomic<bool> done{false};
  std::atomic<int> sent{0}, lost{0};
  // One signal at a time: a second one before the first is recorded would end the process (_exit).
  std::thread sender([&] {
    while (!done.load()) {
      kill(getpid(), sent.fetch_add(1) % 2 == 0 ? SIGINT : SIGTERM);
      if (!stop_recorded_within_a_second()) lost.fetch_add(1);
      clear_stop_request();
    }
  });
  int wrong = 0;
  for (int step = 0; step < 400; ++step) {
    const std::vector<float> churn(1000 + step % 97, 1.f);  // allocations beside the kernel's
    sgemm(CpuGemm::onednn, false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c.data(), n);
    if (c != expected) ++wrong;
  }
  done.store(true);
  sender.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(lost.load(), 0);
  EXPECT_GT(sent.load(), 100) << "too few signals arrived during the products to test anything";
}
