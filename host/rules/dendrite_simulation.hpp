#pragma once
// A batch of segregated-dendrite networks (Guerguiev, Lillicrap, Richards 2017) simulated millisecond by
// millisecond, every example of the batch in parallel: per step and layer, one product for the basal (and
// apical) potentials and one Backend::dendrite_step launch. The state stays in the backend's memory; the
// host only queues work. The learning rule (dendrites.cpp) and the benchmark drive it.
#include <vector>

#include "bioprop/backend.hpp"

namespace bioprop {

// Sums over the plasticity window of one phase, per layer. Index l of soma / apical / rate is weighted layer
// l (the output is the last); psp has one more entry, the input's, first: psp[l] feeds layer l.
struct WindowSums {
  std::vector<Tensor> soma, apical, rate, psp;
};

// The synapses: W_l (n_l, n_{l-1}) and b_l (n_l) of every weighted layer, Y_l (n_l, n_source) and c_l (n_l) of
// every hidden layer (its apical input from its feedback source's PSPs).
struct DendriteSynapses {
  std::vector<const Tensor*> forward, bias, feedback, feedback_bias;
};

class DendriteSimulation {
 public:
  // sizes: input, hidden..., output. broadcast: every hidden layer's apical input comes from the output
  // layer (the paper's default); else from the layer above.
  DendriteSimulation(std::vector<int> sizes, const DendriteConstants& constants, bool spiking, bool broadcast);

  int layers() const { return static_cast<int>(sizes_.size()) - 1; }  // weighted layers
  bool hidden(int l) const { return l + 1 < layers(); }
  // The layer whose PSPs drive hidden layer l's apical compartment.
  int feedback_source(int l) const { return broadcast_ ? layers() - 1 : l + 1; }
  const DendriteConstants& constants() const { return constants_; }

  // Every example starts from rest: somata, traces and PSPs at zero.
  void reset(Backend& backend, int batch);
  // Zeroed sums of the right shapes for `batch` examples.
  void clear(Backend& backend, WindowSums& sums, int batch) const;
  // Simulates `steps` ms with input firing rates `rates` (N, n_input); `labels` (N) set the output's
  // teaching conductances (target phase) or are null (forward phase). The last `window` steps add to `sums`.
  // Spike draws use Philox (seed, ...) numbered by `step_counter`, which advances by `steps`; example n's are
  // those of example first_trial + n of the global batch (data-parallel ranks draw what one process draws).
  void run(Backend& backend, const DendriteSynapses& synapses, const Tensor& rates, const Tensor* labels, int steps,
           int window, WindowSums& sums, uint64_t seed, uint64_t& step_counter, uint64_t first_trial);

 private:
  struct LayerState {
    Tensor basal, apical, soma, fast, slow, psp;
  };
  std::vector<int> sizes_;
  DendriteConstants constants_;
  bool spiking_, broadcast_;
  std::vector<LayerState> state_;  // [0]: the input (traces and PSP only)
};

}  // namespace bioprop
