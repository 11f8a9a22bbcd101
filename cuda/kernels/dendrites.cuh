#pragma once
// One millisecond of one layer of segregated-dendrite neurons (Guerguiev, Lillicrap, Richards 2017) for
// every example of the batch: soma, firing rate, Poisson spikes, their PSP and the plasticity-window sums,
// one thread per neuron and example (dendrite_math.hpp's element function, the CPU reference's own code).
// The state stays on the device across milliseconds; the rule launches this once per layer per step,
// between the cuBLAS products that compute the basal and apical potentials.
#include "bioprop/cuda_launch.hpp"
#include "bioprop/dendrite_math.hpp"
#include "bioprop/rng.hpp"
#include "elementwise.cuh"

namespace bioprop::kernels {

__global__ void dendrite_step_kernel(DendriteArrays arrays, size_t n, uint64_t seed, uint64_t offset, uint64_t first) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dendrite_element(arrays, i, philox_uniform(seed, offset, first + i));
}

BIOPROP_LAUNCHER void dendrite_step(const DendriteArrays& arrays, size_t n, uint64_t seed, uint64_t offset,
                                    uint64_t first, cudaStream_t stream) {
  launch<dendrite_step_kernel>(dim3(blocks_for(n, elementwise_block)), dim3(elementwise_block), 0, stream, arrays, n,
                               seed, offset, first);
}

}  // namespace bioprop::kernels
