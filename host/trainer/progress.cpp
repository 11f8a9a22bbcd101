#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace bioprop {

std::string format_duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{:02}:{:02}", s / 60, s % 60);
}

Progress::Progress(bool enabled) : enabled_(enabled), terminal_(isatty(fileno(stderr)) != 0) {}

void Progress::start_epoch(int epoch, int epochs, int batches) {
  epoch_ = epoch, epochs_ = epochs, batches_ = batches, last_tenth_ = 0;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void Progress::update(int batches_done, long images_done, double mean_loss, double accuracy) {
  if (!enabled_ || batches_ == 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double fraction = static_cast<double>(batches_done) / batches_;
  const double rate = elapsed > 0 ? static_cast<double>(images_done) / elapsed : 0.0;
  const double eta = fraction > 0 ? elapsed * (1.0 - fraction) / fraction : 0.0;
  if (terminal_) {
    // Redraw at most 10 times a second; a terminal is slow to scroll.
    if (batches_done != batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int width = 30;
    const int filled = static_cast<int>(fraction * width);
    fmt::print(stderr, "\repoch {}/{} [{}{}] {:3.0f}% {:7.0f} img/s ETA {} loss {:.4f} acc {:.2f}%   ", epoch_, epochs_,
               std::string(static_cast<size_t>(filled), '#'), std::string(static_cast<size_t>(width - filled), '.'),
               100 * fraction, rate, format_duration(eta), mean_loss, 100 * accuracy);
  } else {
    const int tenth = static_cast<int>(fraction * 10);
    if (tenth <= last_tenth_) return;
    last_tenth_ = tenth;
    fmt::print(stderr, "epoch {}/{} {:3.0f}% ({}/{} batches) {:.0f} img/s ETA {} loss {:.4f} acc {:.2f}%\n", epoch_,
               epochs_, 100 * fraction, batches_done, batches_, rate, format_duration(eta), mean_loss, 100 * accuracy);
  }
  std::fflush(stderr);
}

void Progress::finish_epoch() {
  if (enabled_ && terminal_) fmt::print(stderr, "\n");
}

}  // namespace bioprop
