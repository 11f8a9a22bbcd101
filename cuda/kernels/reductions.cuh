#pragma once
// Deterministic sums over a tensor: each block reduces its slice (warp shuffles, then shared memory)
// into one partial, and a second one-block pass adds the partials in a fixed order, so the result does
// not depend on scheduling (no atomics).
#include "bioprop/cuda_launch.hpp"
#include "kernel_types.hpp"

namespace bioprop::kernels {

__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(offset));
  return v;
}

// Block-wide sum of `v`; the result is valid in thread 0.
__device__ __forceinline__ double block_sum(double v) {
  __shared__ double warp_totals[reduce_block / 32];
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? warp_totals[lane] : 0.0;
  if (warp == 0) v = warp_sum(v);
  return v;
}

__global__ void reduce_partials_kernel(Reduction kind, const float* __restrict__ a, const float* __restrict__ b,
                                       size_t n, double* __restrict__ partials) {
  double v = 0.0;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const double x = a[i];
    v += kind == Reduction::sum ? x : kind == Reduction::sum_of_squares ? x * x : x * static_cast<double>(b[i]);
  }
  v = block_sum(v);
  if (threadIdx.x == 0) partials[blockIdx.x] = v;
}

__global__ void reduce_final_kernel(const double* __restrict__ partials, unsigned count, double* __restrict__ result) {
  double v = 0.0;
  for (unsigned i = threadIdx.x; i < count; i += blockDim.x) v += partials[i];
  v = block_sum(v);
  if (threadIdx.x == 0) *result = v;
}

// Writes the reduction of a (and b for dot) into workspace[reduce_blocks(n)] (a device double).
BIOPROP_LAUNCHER void reduce(Reduction kind, const float* a, const float* b, size_t n, double* workspace,
                             cudaStream_t stream) {
  const unsigned blocks = reduce_blocks(n);
  launch<reduce_partials_kernel>(dim3(blocks), dim3(reduce_block), 0, stream, kind, a, b, n, workspace);
  launch<reduce_final_kernel>(dim3(1), dim3(reduce_block), 0, stream, workspace, blocks, workspace + blocks);
}

}  // namespace bioprop::kernels
