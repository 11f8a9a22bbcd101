#pragma once
// The target-propagation family (Bartunov, Santoro, Richards, Marris, Hinton, Lillicrap 2018, "Assessing
// the scalability of biologically-motivated deep learning algorithms and architectures", arXiv 1807.04587,
// its sections on target propagation, difference target propagation, simplified DTP and auxiliary-output
// SDTP; Lee, Zhang, Fischer, Bengio 2015 for TP and DTP; we could read only their equations as quoted in
// REFERENCES.md and summaries, not the section numbers). Every block l (a weighted layer and
// what follows it up to the next one) gets a target t_l for its output h_l and learns only from its own
// local loss ||h_l - t_l||^2; targets travel down through learned inverses g_l (learned_inverse.hpp):
//   tp            t_{l-1} = g_l(t_l)
//   dtp           t_{l-1} = h_{l-1} + g_l(t_l) - g_l(h_l)   (the difference correction of Lee et al.)
//   dtp_parallel  dtp with the inverse and forward updates computed from one forward pass and applied
//                 together (Bartunov et al.'s "parallel" variant); dtp, tp, sdtp and ao_sdtp train the
//                 inverses first and compute targets with the trained g.
//   sdtp          the penultimate target from the label through the output block's inverse, no
//                 gradient anywhere: t_{L-1} = h_{L-1} - g_L(h_L) + g_L(t_L), h_L the softmax output and
//                 t_L the one-hot label (argmin of the loss) (their "simplified DTP")
//   ao_sdtp       sdtp with an auxiliary output: z = tanh(R h_{L-1}) of 512 fixed random units joins the
//                 output, t_{L-1} = h_{L-1} - g_L(h_L, z) + g_L(t_L, z) (their "auxiliary output SDTP")
// tp and the dtp pair set the penultimate target by a gradient step on the output loss:
// t_{L-1} = h_{L-1} - alpha dL/dh_{L-1}. The output block learns from the loss itself (its own error:
// p - y at the readout; a delta rule). Inverses minimise the noise-corrupted reconstruction loss
// ||h~_{l-1} - g_l(f_l(h~_{l-1}))||^2 with h~ = h + N(0, sigma^2) (their inverse loss), with their own
// optimiser (Adam by default, as the paper).
#include <memory>
#include <optional>
#include <vector>

#include "bioprop/optimizer.hpp"
#include "bioprop/rule.hpp"
#include "learned_inverse.hpp"

namespace bioprop {

enum class TargetVariant { tp, dtp, dtp_parallel, sdtp, ao_sdtp };

struct TargetSettings {
  TargetVariant variant = TargetVariant::dtp;
  float sigma = 0.1f;        // noise of the inverse training
  float target_step = 0.1f;  // alpha of the gradient step that sets the penultimate target (tp, dtp)
  double inverse_lr = 1e-3;  // learning rate of the inverses' optimiser
  // Per inverse, bottom up (g_2 .. g_L, the output inverse last), where the paper tunes them per layer;
  // empty: sigma and inverse_lr for every inverse.
  std::vector<double> layer_sigmas, layer_inverse_lrs;
  std::string inverse_optimizer = "adam";
  int inverse_steps = 1;  // inverse updates per forward update
  int aux_units = 512;    // ao_sdtp's fixed random units
};

// g_L of sdtp and ao_sdtp: r = f(V_o p + V_z z + c), from the output (and the auxiliary units z) back to
// h_{L-1}, f the nonlinearity that made h_{L-1}.
class OutputInverse {
 public:
  OutputInverse(int outputs, int aux_units, int hidden, std::optional<Activation> f, Backend& backend, uint64_t seed);
  // r for outputs p (N, K) and auxiliary units z (N, Z; empty when there are none).
  const Tensor& forward(Backend& backend, const Tensor& p, const Tensor& z);
  // Gradients of the parameters for dL/dr, after forward() of the same inputs.
  void backward(Backend& backend, const Tensor& p, const Tensor& z, const Tensor& dr);
  std::vector<Parameter*> parameters();

 private:
  std::optional<Activation> f_;
  Parameter from_outputs_, from_aux_, bias_;
  Tensor pre_, out_, dpre_;
};

class TargetPropagation final : public Rule {
 public:
  explicit TargetPropagation(TargetSettings settings) : s_(std::move(settings)) {}
  std::string name() const override;
  void attach(Network& network, Backend& backend, uint64_t seed) override;
  StepResult step(Network& network, const Batch& batch, Backend& backend) override;
  // Inverses and their optimiser's state, and ao_sdtp's fixed R: saved with checkpoints.
  std::vector<Parameter*> rule_parameters() override;
  bool sums_inside_step() const override { return true; }  // the inverses' updates, before their optimiser
  StreamPositions stream_positions() override;

  // For tests and diagnostics: the inverse of block l (1..L-2; nullptr for others), the target of block
  // l's output from the last step, and the mean reconstruction loss of inverse l (L-1: the output
  // inverse) in the last inverse update.
  Network* inverse(size_t l) { return l < inverses_.size() ? inverses_[l].get() : nullptr; }
  const Tensor& target(size_t l) const { return targets_.at(l); }
  double reconstruction_loss(size_t l) const { return reconstruction_loss_.at(l); }
  const std::vector<Block>& blocks() const { return blocks_; }

 private:
  void train_inverses(Network& network, const Batch& batch, Backend& backend);
  void compute_targets(Network& network, const Batch& batch, Backend& backend);
  void update_forward_weights(Network& network, Backend& backend);
  // Runs block `b`'s layers on x into scratch buffers and returns the block's output.
  const Tensor& run_block(Network& network, size_t b, const Tensor& x, Backend& backend);
  // Softmax outputs of the output block for its logits, and the auxiliary units of h_{L-1}.
  void make_one_hot(Backend& backend, const Tensor& labels, const Shape& logits);
  void output_probabilities(Backend& backend, const Tensor& logits, const Tensor& labels, Tensor& p);
  void auxiliary_units(Backend& backend, const Tensor& penultimate, Tensor& z);
  bool uses_output_inverse() const;

  TargetSettings s_;
  std::vector<Block> blocks_;
  std::vector<Shape> shapes_;
  std::vector<std::unique_ptr<Network>> inverses_;
  std::unique_ptr<OutputInverse> output_inverse_;
  Parameter aux_weights_;  // R (Z, D), fixed
  // Each inverse's training: its parameters, noise, and optimiser (its own learning rate) with its state.
  struct InverseTraining {
    std::vector<Parameter*> parameters;
    float sigma = 0.0f;
    std::unique_ptr<Optimizer> optimizer;
    std::vector<Parameter> state;
  };
  std::vector<InverseTraining> training_;  // index l: g_l (1..L-1); [0] unused
  void add_inverse_training(size_t l, std::vector<Parameter*> parameters, Backend& backend);
  std::vector<Tensor> targets_;
  std::vector<double> reconstruction_loss_;
  std::vector<Tensor> scratch_;  // per layer of the forward net: outputs of run_block
  Tensor noisy_, local_grad_, difference_, inverse_of_target_, one_hot_, probabilities_, aux_, aux_pre_, noisy_aux_,
      label_probs_;
  uint64_t seed_ = 0, draws_ = 0, inverse_updates_ = 0;
};

}  // namespace bioprop
