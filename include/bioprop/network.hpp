#pragma once
// Network: an ordered list of layers plus the activations of the current batch. activations(i) is
// the input of layer i; activations(size()) is the net's output. Buffers are sized for the largest
// batch seen and reused, so the training loop does not allocate.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bioprop/layers.hpp"

namespace bioprop {

// Noise injected while training, for robustness experiments (Konishi et al. 2023): on the activities
// (after every activation layer) and on the learning signal dL/d(output). Off during evaluation.
struct TrainingNoise {
  float activity = 0.0f;  // standard deviation added to every activation output
  float signal = 0.0f;    // standard deviation added to each trial's output error e (before the 1/N)
  uint64_t seed = 0;
};

class Network {
 public:
  // Builds every layer for samples of shape `sample` (C,H,W or F, no batch axis).
  Network(std::vector<std::unique_ptr<Layer>> layers, const Shape& sample, const Initializer& init, Backend& backend,
          std::string name = "net");

  const std::string& name() const { return name_; }
  int size() const { return static_cast<int>(layers_.size()); }
  Layer& layer(int i) { return *layers_.at(static_cast<size_t>(i)); }
  const Shape& sample_shape() const { return sample_; }
  int outputs() const;

  // Runs every layer on x (N, sample...) and returns the output (N, outputs).
  const Tensor& forward(Backend& backend, const Tensor& x);
  const Tensor& activations(int i) const { return activations_.at(static_cast<size_t>(i)); }
  const Tensor& output() const { return activations_.back(); }
  // Per-layer gradient buffers with the shape of activations(i), for rules to fill.
  Tensor& gradient(int i) { return gradients_.at(static_cast<size_t>(i)); }
  // For rules that read the gradients one layer at a time, top down (layer i's backward reads gradient(i + 1)
  // and writes gradient(i)), and never a ReLU's input once the forward pass is done: bp, the feedback-
  // alignment family, Q-AGREL and BrainProp turn this on in attach(). The interior gradients then take
  // turns in two buffers (gradient(i) shares memory with gradient(i +- 2)), and a ReLU that follows another
  // layer overwrites that layer's output with its own (its derivative at a is 1 where f(a) > 0, so it reads
  // the same from either), unless activity noise is on. PyTorch's autograd likewise holds the gradient of one
  // layer at a time. Off by default: DFA, target propagation and learned feedback keep every buffer.
  void set_buffer_reuse(bool reuse) { reuse_buffers_ = reuse; }

  // Backprop from dL/d(output) = gradient(size()): every layer's weight_grad and backward_data,
  // through W or through the feedback weights B.
  void backward(Backend& backend, Pathway pathway);
  // Data-parallel overlap (issue 17, item 2): while set, `listener(i)` is called as soon as a rule has left the
  // final update of layer i in its parameters' grads, so that the update's sum over the ranks starts while
  // credit assignment goes on below. backward() announces every layer with parameters; rules with their own
  // loop over the layers call announce_update. Only rules whose announced grads stay as they are get a
  // listener (Rule::announces_updates).
  void set_update_listener(std::function<void(int)> listener) { update_listener_ = std::move(listener); }
  void announce_update(int layer) {
    if (update_listener_) update_listener_(layer);
  }
  // Re-runs layers [first, last) on the stored activations, after a rule changed activations(first)
  // (node perturbation). Needs a forward() of the same batch before.
  void forward_range(Backend& backend, int first, int last);
  Tensor& mutable_activations(int i) { return activations_.at(static_cast<size_t>(i)); }
  // Indexes of the layers with weights, in order.
  std::vector<int> weighted_layers();

  void set_training_noise(const TrainingNoise& noise) { noise_ = noise; }
  // Training mode turns the noise on; evaluation runs without it.
  void set_training(bool training);
  // While set, forward passes (and forward_range) repeat the randomness of the last ordinary forward
  // pass, its dropout masks and activity noise, and leave batch norm's running statistics alone: the
  // perturbed passes of WP and NP then differ from the clean one only by their own perturbation.
  void set_repeat_draws(bool repeat);
  // Synchronised batch statistics over the ranks of `job` (Layer::set_statistics_sync); null: per rank.
  void set_statistics_sync(Communicator* job, double share);
  // Data-parallel training: the batches this rank runs start at trial `first` of the global batch. Every draw
  // made per trial (dropout, activity and signal noise, the rules' exploration and perturbations) starts
  // there in its stream, so that K ranks draw what one process draws for the whole batch.
  void set_first_trial(uint64_t first);
  // Data-parallel training: the job this rank trains in and its share of the global batch's trials (null: one
  // process). Rules that update weights of their own inside the step with their own optimiser (learned inverses,
  // learned feedback) sum those updates with sum_over_ranks first, so every rank takes one process's step.
  void set_job(Communicator* job, double share) {
    job_ = job;
    share_ = share;
  }
  // Sums the grads of `parameters` over the ranks, each rank's weighted by its share: the global batch's mean
  // (every rank must call it at the same point of the step). A no-op in one process.
  void sum_over_ranks(Backend& backend, const std::vector<Parameter*>& parameters);
  // This rank's share of the global batch's trials (1 in one process).
  double share_of_batch() const { return job_ ? share_ : 1.0; }
  uint64_t first_trial() const { return first_trial_; }
  // Where a per-trial draw for a tensor of (N, ...) trials starts in its stream: first trial times elements.
  uint64_t first_draw(const Tensor& per_trial) const { return first_trial_ * per_trial.shape().sample_size(); }
  bool repeats_draws() const { return repeat_draws_; }
  // While set, batch norm (training) normalises with the last ordinary pass's batch statistics, so no
  // sample's output depends on the others' (learned feedback's noisy pass gives each trial's own loss change).
  void set_hold_statistics(bool hold);
  bool holds_statistics() const { return hold_statistics_; }
  // Adds the learning-signal noise (if any, in training) to the output gradient.
  void add_signal_noise(Backend& backend, Tensor& doutput);

  std::vector<Parameter*> parameters();
  // The counters of every random stream of the net (activity and signal noise, each layer's own),
  // named "noise.passes", "layer3.masks", ...: saved with checkpoints for an exact resume.
  StreamPositions stream_positions();
  // Every layer's non-trained state (batch norm's running statistics), saved with checkpoints.
  std::vector<Parameter*> state();
  // True when some layer couples the samples of a batch in the current mode (batch norm, training).
  bool mixes_samples() const;
  size_t parameter_count();
  // Refuses, naming the sizes, a net whose training on batches of `batch` cannot fit the backend's
  // memory: every parameter with its gradient and up to two optimiser or feedback copies, and every
  // layer's activations and gradients for the batch. Called before the first step allocates them.
  void check_fits_in_memory(int batch, const Backend& backend);
  // One line per layer: kind, settings, output shape, parameter count.
  std::string summary();

 private:
  std::string name_;
  Shape sample_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Shape> sample_shapes_;  // output shape of every layer for batch 1; [0] is the input
  std::vector<std::string> forward_ranges_, backward_ranges_;  // NVTX range names, e.g. "forward 2 conv2d"
  std::vector<Tensor> activations_, gradients_;
  bool reuse_buffers_ = false;
  std::function<void(int)> update_listener_;
  Tensor shared_gradients_[2];  // with buffer reuse: the storage of the even and the odd interior gradients

  void resize_gradients(int batch);
  bool runs_in_place(size_t layer) const;
  TrainingNoise noise_;
  bool training_ = false, repeat_draws_ = false, hold_statistics_ = false;
  uint64_t noise_draws_ = 0, pass_ = 0;  // pass_: ordinary forward passes so far (activity noise stream)
  uint64_t first_trial_ = 0;
  Communicator* job_ = nullptr;
  double share_ = 1.0;
  Tensor noise_buffer_;

  void add_activity_noise(Backend& backend, size_t layer);
};

// The data-parallel sum of mean gradients: scales each parameter's grad by `share` (this rank's share of the
// global batch's trials) and starts its sum over the ranks of `job` (Backend::start_all_reduce_sum).
void start_sum_of_grads(Backend& backend, Communicator& job, const std::vector<Parameter*>& parameters, double share);

// Sets one of a network's pass modes for a scope and restores the one before.
template <bool (Network::*Get)() const, void (Network::*Set)(bool)>
class ScopedPassMode {
 public:
  explicit ScopedPassMode(Network& network) : network_(network), before_((network.*Get)()) { (network.*Set)(true); }
  ~ScopedPassMode() { (network_.*Set)(before_); }
  ScopedPassMode(const ScopedPassMode&) = delete;
  ScopedPassMode& operator=(const ScopedPassMode&) = delete;

 private:
  Network& network_;
  bool before_;
};
using RepeatDraws = ScopedPassMode<&Network::repeats_draws, &Network::set_repeat_draws>;
using HoldBatchStatistics = ScopedPassMode<&Network::holds_statistics, &Network::set_hold_statistics>;

}  // namespace bioprop
