#pragma once
// Mean and spread over seeds, as comparisons report them.
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

namespace bioprop {

struct Stats {
  int count = 0;
  double mean = 0, sd = 0;  // sd: the sample standard deviation (0 for one value)
};

inline Stats stats_of(const std::vector<double>& values) {
  Stats s;
  s.count = static_cast<int>(values.size());
  if (values.empty()) return s;
  for (double v : values) s.mean += v / s.count;
  if (s.count > 1) {
    for (double v : values) s.sd += (v - s.mean) * (v - s.mean) / (s.count - 1);
    s.sd = std::sqrt(s.sd);
  }
  return s;
}

inline std::string mean_sd(const Stats& s, const char* format = "{:.2f}") {
  return fmt::format(fmt::runtime(std::string(format) + " ± " + format), s.mean, s.sd);
}

// "3.0 ± 0.0", "4.5 ± 0.7 (2 of 3; 1 not in 10)" or "not in 10": a run that never reached the target is
// counted as such, never averaged as the limit.
inline std::string to_target(const Stats& reached, int runs, int limit, const char* format) {
  if (reached.count == 0) return fmt::format("not in {}", limit);
  std::string text = mean_sd(reached, format);
  if (reached.count < runs)
    text += fmt::format(" ({} of {}; {} not in {})", reached.count, runs, runs - reached.count, limit);
  return text;
}

}  // namespace bioprop
