#pragma once
// Types shared by the kernels and the host code that calls their launchers.
#include <cstddef>

#include "bioprop/backend.hpp"  // Activation

namespace bioprop::kernels {

// CUDA caps gridDim.z at 65535; a locally connected layer with more output positions than that loops
// over them (grid-stride), its launchers taking this cap (tests lower it to reach the loop).
constexpr unsigned lc_max_position_blocks = 65535;

enum class Reduction { sum, sum_of_squares, dot };
// accuracy_only writes just the correct-answer flags (no loss, no gradient).
enum class OutputLoss { cross_entropy, mean_squared_error, regression, accuracy_only };

// Per-channel layout of an (N, ...) tensor: value i belongs to channel (i / inner) % channels.
struct ChannelLayout {
  size_t inner = 1, channels = 1, batch = 1;
};

// Destinations of one feedback_projection launch (passed by value, so no device copy of the list):
// columns [first, first + width) of the projection go to out (rows, width), times f'(pre) if derivative.
constexpr int max_projection_targets = 16;
struct ProjectionTarget {
  int first = 0, width = 0;
  float* out = nullptr;
  const float* pre = nullptr;
  const float* post = nullptr;
  bool derivative = false;
  Activation f = Activation::relu;
};
struct ProjectionTargets {
  int count = 0;
  ProjectionTarget target[max_projection_targets];
};

// Batch norm's per-channel sums run on channels x splits blocks of about this many values each.
constexpr size_t batch_norm_values_per_split = 4096;
constexpr unsigned batch_norm_max_splits = 128;
inline unsigned batch_norm_splits(const ChannelLayout& l) {
  const size_t splits = (l.batch * l.inner + batch_norm_values_per_split - 1) / batch_norm_values_per_split;
  return splits < 1 ? 1u : (splits > batch_norm_max_splits ? batch_norm_max_splits : static_cast<unsigned>(splits));
}
// Device doubles of workspace batch_norm_statistics and batch_norm_sums need.
inline size_t batch_norm_workspace(const ChannelLayout& l) { return 2 * l.channels * batch_norm_splits(l); }

constexpr unsigned reduce_block = 256;
constexpr unsigned reduce_max_blocks = 1024;

// Number of block partials reduce() writes for n values; its workspace holds that many doubles plus
// one for the result.
inline unsigned reduce_blocks(size_t n) {
  const size_t blocks = (n + reduce_block - 1) / reduce_block;
  return blocks < 1 ? 1u : (blocks > reduce_max_blocks ? reduce_max_blocks : static_cast<unsigned>(blocks));
}

}  // namespace bioprop::kernels
