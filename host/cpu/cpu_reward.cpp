// Reference attention gate and per-trial modulation for the reward-based rules (Pozzi et al. 2018,
// 2020): action selection, reward, reward-prediction error, and the output tag of the chosen unit.
#include "bioprop/attention_gate_math.hpp"
#include "bioprop/error.hpp"
#include "bioprop/rng.hpp"
#include "cpu_backend.hpp"

namespace bioprop {

void CpuBackend::attention_gate(const Tensor& q, const Tensor& labels, const ExplorationPolicy& policy, uint64_t seed,
                                uint64_t offset, GateOutputs& out, Tensor& tags, uint64_t first_trial) {
  const int batch = q.dim(0), actions = static_cast<int>(q.shape().sample_size());
  if (labels.numel() != static_cast<size_t>(batch))
    fail("attention_gate: {} labels for {} trials", labels.numel(), batch);
  if (!(policy.temperature > 0.0f)) fail("attention_gate: temperature must be > 0, got {}", policy.temperature);
  expect_shape(tags, q.shape(), "attention_gate tags");
  for (Tensor* t : {&out.actions, &out.rewards, &out.rpe, &out.greedy_correct}) t->resize({batch});
  fill(tags, 0.0f);
  for (int b = 0; b < batch; ++b) {
    const float* values = q.data() + static_cast<size_t>(b) * actions;
    const uint64_t draw = 2 * (first_trial + static_cast<uint64_t>(b));
    const int action = choose_action(values, actions, policy, philox_uniform(seed, offset, draw),
                                     philox_uniform(seed, offset, draw + 1));
    const float reward = static_cast<float>(action) == labels.data()[b] ? 1.0f : 0.0f;
    out.actions.data()[b] = static_cast<float>(action);
    out.rewards.data()[b] = reward;
    out.rpe.data()[b] = reward - values[action];
    out.greedy_correct.data()[b] = static_cast<float>(greedy_action(values, actions)) == labels.data()[b] ? 1.0f : 0.0f;
    tags.data()[static_cast<size_t>(b) * actions + action] = 1.0f;
  }
}

ScoredLoss CpuBackend::score_gate(const GateOutputs& gate) {
  const size_t trials = gate.rpe.numel();
  if (gate.greedy_correct.numel() != trials)
    fail("score_gate: {} correct-answer flags for {} trials", gate.greedy_correct.numel(), trials);
  double squares = 0.0, correct = 0.0;
  for (size_t b = 0; b < trials; ++b) {
    squares += 0.5 * static_cast<double>(gate.rpe.data()[b]) * gate.rpe.data()[b];
    correct += gate.greedy_correct.data()[b];
  }
  return {static_cast<float>(squares / static_cast<double>(std::max<size_t>(trials, 1))), static_cast<int>(correct)};
}

void CpuBackend::scale_samples(const Tensor& x, const Tensor& scale, float alpha, Tensor& out) {
  const size_t batch = static_cast<size_t>(x.dim(0)), sample = x.shape().sample_size();
  if (scale.numel() != batch) fail("scale_samples: {} scales for {} samples", scale.numel(), batch);
  if (out.numel() != x.numel()) fail("scale_samples: output {} for input {}", out.shape().str(), x.shape().str());
  const float* in = x.data();
  float* result = out.data();
#pragma omp parallel for if (batch * sample > parallel_threshold) schedule(static)
  for (size_t b = 0; b < batch; ++b) {
    const float factor = alpha * scale.data()[b];
    for (size_t i = 0; i < sample; ++i) result[b * sample + i] = factor * in[b * sample + i];
  }
}

// The reference: scale the tags by alpha * m_b, then the plain weight gradient of the scaled tags.
void CpuBackend::dense_three_factor_update(const Tensor& tags, const Tensor& pre, const Tensor& modulator, float alpha,
                                           float beta, Tensor& dweights) {
  Tensor scaled(tags.shape());
  scale_samples(tags, modulator, alpha, scaled);
  gemm(true, false, 1.0f, scaled, pre.reshaped({pre.dim(0), static_cast<int>(pre.shape().sample_size())}), beta,
       dweights);
}

void CpuBackend::locally_connected_three_factor_update(const Tensor& tags, const Tensor& pre, const Tensor& modulator,
                                                       float alpha, float beta, Tensor& dweights,
                                                       const WindowGeometry& g) {
  Tensor scaled(tags.shape());
  scale_samples(tags, modulator, alpha, scaled);
  locally_connected_backward_weight(scaled, pre, beta, dweights, g);
}

}  // namespace bioprop
