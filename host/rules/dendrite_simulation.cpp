#include "dendrite_simulation.hpp"

#include "bioprop/error.hpp"
#include "bioprop/profiling.hpp"

namespace bioprop {

DendriteSimulation::DendriteSimulation(std::vector<int> sizes, const DendriteConstants& constants, bool spiking,
                                       bool broadcast)
    : sizes_(std::move(sizes)), constants_(constants), spiking_(spiking), broadcast_(broadcast) {
  if (sizes_.size() < 2) fail("a segregated-dendrite net needs an input and an output layer");
  state_.resize(sizes_.size());
}

void DendriteSimulation::reset(Backend& backend, int batch) {
  const Device device = backend.device();
  for (size_t l = 0; l < state_.size(); ++l) {
    const Shape shape{batch, sizes_[l]};
    LayerState& s = state_[l];
    for (Tensor* t : {&s.fast, &s.slow, &s.psp}) {
      t->resize(shape, device);
      backend.fill(*t, 0.0f);
    }
    if (l == 0) continue;
    for (Tensor* t : {&s.basal, &s.soma}) {
      t->resize(shape, device);
      backend.fill(*t, 0.0f);
    }
    if (hidden(static_cast<int>(l) - 1)) s.apical.resize(shape, device);
  }
}

void DendriteSimulation::clear(Backend& backend, WindowSums& sums, int batch) const {
  const int weighted = layers();
  sums.soma.resize(static_cast<size_t>(weighted));
  sums.apical.resize(static_cast<size_t>(weighted));
  sums.rate.resize(static_cast<size_t>(weighted));
  sums.psp.resize(static_cast<size_t>(weighted) + 1);
  auto zero = [&](Tensor& t, int units) {
    t.resize({batch, units}, backend.device());
    backend.fill(t, 0.0f);
  };
  for (int l = 0; l < weighted; ++l) {
    const int units = sizes_[static_cast<size_t>(l) + 1];
    zero(sums.soma[static_cast<size_t>(l)], units);
    zero(sums.rate[static_cast<size_t>(l)], units);
    if (hidden(l)) zero(sums.apical[static_cast<size_t>(l)], units);
  }
  for (int l = 0; l <= weighted; ++l) zero(sums.psp[static_cast<size_t>(l)], sizes_[static_cast<size_t>(l)]);
}

void DendriteSimulation::run(Backend& backend, const DendriteSynapses& synapses, const Tensor& rates,
                             const Tensor* labels, int steps, int window, WindowSums& sums, uint64_t seed,
                             uint64_t& step_counter, uint64_t first_trial) {
  ProfileRange range(labels ? "dendrites target phase" : "dendrites forward phase");
  const int weighted = layers();
  const uint64_t streams = static_cast<uint64_t>(weighted) + 1;
  for (int t = 0; t < steps; ++t, ++step_counter) {
    const bool in_window = t >= steps - window;
    // Each launch draws at most N * units < 2^26 uniforms: 2^24 Philox blocks apart never overlap.
    auto offset = [&](int layer) { return (step_counter * streams + static_cast<uint64_t>(layer)) << 24; };
    DendriteStep input;
    input.layer = DendriteLayer::input;
    input.drive = &rates;
    input.trace_fast = &state_[0].fast;
    input.trace_slow = &state_[0].slow;
    input.psp = &state_[0].psp;
    input.psp_sum = in_window ? &sums.psp[0] : nullptr;
    input.constants = constants_;
    input.spiking = spiking_;
    input.seed = seed;
    input.offset = offset(0);
    input.first = first_trial * rates.shape().sample_size();
    backend.dendrite_step(input);
    // Upward in order: a layer's basal input sees this millisecond's spikes from below, its apical input the
    // last millisecond's from above (the layers above have not stepped yet).
    for (int l = 0; l < weighted; ++l) {
      const size_t index = static_cast<size_t>(l);
      LayerState& s = state_[index + 1];
      backend.gemm(false, true, 1.0f, state_[index].psp, *synapses.forward[index], 0.0f, s.basal);
      DendriteStep step;
      step.layer = hidden(l) ? DendriteLayer::hidden : DendriteLayer::output;
      step.drive = &s.basal;
      step.drive_bias = synapses.bias[index];  // added in the step: no separate pass
      if (hidden(l)) {
        const Tensor& source = state_[static_cast<size_t>(feedback_source(l)) + 1].psp;
        backend.gemm(false, true, 1.0f, source, *synapses.feedback[index], 0.0f, s.apical);
        step.apical = &s.apical;
        step.apical_bias = synapses.feedback_bias[index];
        step.apical_sum = in_window ? &sums.apical[index] : nullptr;
      } else {
        step.labels = labels;
      }
      step.soma = &s.soma;
      step.trace_fast = &s.fast;
      step.trace_slow = &s.slow;
      step.psp = &s.psp;
      if (in_window) {
        step.soma_sum = &sums.soma[index];
        step.rate_sum = &sums.rate[index];
        step.psp_sum = &sums.psp[index + 1];
      }
      step.constants = constants_;
      step.spiking = spiking_;
      step.seed = seed;
      step.offset = offset(l + 1);
      step.first = first_trial * step.drive->shape().sample_size();
      backend.dendrite_step(step);
    }
  }
}

}  // namespace bioprop
