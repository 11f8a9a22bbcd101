#pragma once
// Progress display for the epoch loop: a redrawn bar with rate and ETA on a terminal, plain
// periodic lines (every 10% of an epoch) when stderr is a file or a pipe.
#include <chrono>
#include <string>

namespace bioprop {

class Progress {
 public:
  explicit Progress(bool enabled);
  void start_epoch(int epoch, int epochs, int batches);
  void update(int batches_done, long images_done, double mean_loss, double accuracy);
  void finish_epoch();

 private:
  bool enabled_, terminal_;
  int epoch_ = 0, epochs_ = 0, batches_ = 0, last_tenth_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

std::string format_duration(double seconds);

}  // namespace bioprop
