#pragma once
// DFA's feedback projection for all layers in one launch: P = e (rows x classes) x B (classes x width),
// tiled 32 x 32 with e and B staged in shared memory; the epilogue writes each column of P straight
// into its layer's gradient, multiplied by the derivative of the activation below that layer where the
// projection lands right after one. P itself is never stored, and there is no separate slicing or
// derivative pass. The classes dimension is small (10 to 200), so the kernel is bound by the writes.
#include "bioprop/activation_math.hpp"
#include "bioprop/cuda_launch.hpp"
#include "kernel_types.hpp"

namespace bioprop::kernels {

constexpr int projection_tile = 32;
constexpr int projection_rows_per_thread = 4;  // blocks of 32 x 8 threads cover 32 x 32 outputs

// Covers columns [first_column, first_column + columns) of P, which the targets tile in order.
__global__ void feedback_projection_kernel(const float* __restrict__ e, const float* __restrict__ b, int rows,
                                           int classes, int width, int first_column, int columns,
                                           ProjectionTargets targets) {
  __shared__ float e_tile[projection_tile][projection_tile + 1];
  __shared__ float b_tile[projection_tile][projection_tile + 1];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int step = static_cast<int>(blockDim.y);
  const int local = static_cast<int>(blockIdx.x) * projection_tile + tx, column = first_column + local;
  const int row0 = static_cast<int>(blockIdx.y) * projection_tile;
  const bool in_range = local < columns;
  float sum[projection_rows_per_thread] = {};
  for (int k0 = 0; k0 < classes; k0 += projection_tile) {
    for (int r = ty; r < projection_tile; r += step) {
      const int row = row0 + r, k = k0 + tx, kb = k0 + r;
      e_tile[r][tx] = row < rows && k < classes ? e[static_cast<size_t>(row) * classes + k] : 0.0f;
      b_tile[r][tx] = kb < classes && in_range ? b[static_cast<size_t>(kb) * width + column] : 0.0f;
    }
    __syncthreads();
    for (int k = 0; k < projection_tile; ++k) {
      const float weight = b_tile[k][tx];
      for (int i = 0; i < projection_rows_per_thread; ++i) sum[i] += e_tile[ty + i * step][k] * weight;
    }
    __syncthreads();
  }
  if (!in_range) return;
  int s = 0;
  while (s + 1 < targets.count && column >= targets.target[s + 1].first) ++s;
  const ProjectionTarget& t = targets.target[s];
  const size_t j = static_cast<size_t>(column - t.first);
  for (int i = 0; i < projection_rows_per_thread; ++i) {
    const int row = row0 + ty + i * step;
    if (row >= rows) break;
    const size_t at = static_cast<size_t>(row) * static_cast<size_t>(t.width) + j;
    const float v = sum[i];
    t.out[at] = t.derivative ? v * activation_derivative(t.f, t.pre[at], t.post[at]) : v;
  }
}

// One launch per group of up to max_projection_targets consecutive targets (one for any net of up to 16
// hidden layers). `targets` lists all of them in column order, covering [0, width).
BIOPROP_LAUNCHER void feedback_projection(const float* e, const float* b, int rows, int classes, int width,
                                          const ProjectionTarget* targets, int count, cudaStream_t stream) {
  for (int first = 0; first < count; first += max_projection_targets) {
    ProjectionTargets group;
    group.count = count - first < max_projection_targets ? count - first : max_projection_targets;
    int columns = 0;
    for (int i = 0; i < group.count; ++i) {
      group.target[i] = targets[first + i];
      columns += group.target[i].width;
    }
    const dim3 grid(blocks_for(static_cast<size_t>(columns), projection_tile),
                    blocks_for(static_cast<size_t>(rows), projection_tile));
    launch<feedback_projection_kernel>(grid, dim3(projection_tile, projection_tile / projection_rows_per_thread), 0,
                                       stream, e, b, rows, classes, width, group.target[0].first, columns, group);
  }
}

}  // namespace bioprop::kernels
