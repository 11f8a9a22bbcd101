#pragma once
// The attention gate of Q-AGREL / BrainProp for a whole batch in one launch: action selection,
// reward, reward-prediction error and the one-hot output tag, one thread per trial. The selection
// math is choose_action (attention_gate_math.hpp), shared with the CPU reference.
#include "bioprop/attention_gate_math.hpp"
#include "bioprop/cuda_launch.hpp"
#include "bioprop/rng.hpp"

namespace bioprop::kernels {

__global__ void attention_gate_kernel(const float* __restrict__ q, const float* __restrict__ labels, int batch,
                                      int actions, ExplorationPolicy policy, uint64_t seed, uint64_t offset,
                                      uint64_t first_trial, float* __restrict__ chosen, float* __restrict__ rewards,
                                      float* __restrict__ rpe, float* __restrict__ greedy_correct,
                                      float* __restrict__ tags) {
  const int b = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (b >= batch) return;
  const float* values = q + static_cast<size_t>(b) * actions;
  const uint64_t draw = 2 * (first_trial + static_cast<uint64_t>(b));
  const int action = choose_action(values, actions, policy, philox_uniform(seed, offset, draw),
                                   philox_uniform(seed, offset, draw + 1));
  const float reward = static_cast<float>(action) == labels[b] ? 1.0f : 0.0f;
  chosen[b] = static_cast<float>(action);
  rewards[b] = reward;
  rpe[b] = reward - values[action];
  greedy_correct[b] = static_cast<float>(greedy_action(values, actions)) == labels[b] ? 1.0f : 0.0f;
  float* tag = tags + static_cast<size_t>(b) * actions;
  for (int k = 0; k < actions; ++k) tag[k] = k == action ? 1.0f : 0.0f;
}

BIOPROP_LAUNCHER void attention_gate(const float* q, const float* labels, int batch, int actions,
                                     const ExplorationPolicy& policy, uint64_t seed, uint64_t offset,
                                     uint64_t first_trial, float* chosen, float* rewards, float* rpe,
                                     float* greedy_correct, float* tags, cudaStream_t stream) {
  launch<attention_gate_kernel>(dim3(blocks_for(static_cast<size_t>(batch), 128)), dim3(128), 0, stream, q, labels,
                                batch, actions, policy, seed, offset, first_trial, chosen, rewards, rpe, greedy_correct,
                                tags);
}

}  // namespace bioprop::kernels
