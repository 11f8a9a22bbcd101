#pragma once
// Rule: one learning rule. step() runs the forward pass, assigns credit and leaves the update in every
// parameter's grad (as a gradient to descend: the optimiser applies w -= lr * grad). Rules are
// created by name from a registry so the command line and config files can pick them.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bioprop/network.hpp"
#include "bioprop/options.hpp"

namespace bioprop {

struct Batch {
  Tensor inputs;  // (N, C, H, W) or (N, F), on the backend's device
  Tensor labels;  // (N) class indexes as floats, on the backend's device
  int size() const { return inputs.empty() ? 0 : inputs.dim(0); }
};

struct StepResult {
  float loss = 0.0f;  // mean loss over the batch, before the update
  int correct = 0;    // samples whose largest output was the label, before the update
};

// cross_entropy and mean_squared_error (to the one-hot label) classify; regression fits one output to
// the real-valued target held in Batch::labels (the reward-amount task).
enum class Loss { cross_entropy, mean_squared_error, regression };
Loss parse_loss(const std::string& name, const std::string& where);
std::string to_string(Loss loss);
// Mean loss of the net's output; writes dL/d(output) into network.gradient(network.size()).
float compute_loss(Backend& backend, Loss loss, Network& network, const Tensor& labels);
// The mean loss of `output` alone, its gradient written into `doutput` (a scratch: the net's own output
// gradient stays as it was), no signal noise: the loss of a perturbed pass.
float loss_of(Backend& backend, Loss loss, const Tensor& output, const Tensor& labels, Tensor& doutput);
// The same, with the number of correct answers counted in the same pass (none for regression).
ScoredLoss compute_scored_loss(Backend& backend, Loss loss, Network& network, const Tensor& labels);

class Rule {
 public:
  virtual ~Rule() = default;
  virtual std::string name() const = 0;
  // Called once before training: create feedback weights or other state the rule needs. `seed`
  // feeds the rule's own random draws (feedback matrices, exploration).
  virtual void attach(Network& /*network*/, Backend& /*backend*/, uint64_t /*seed*/) {}
  virtual StepResult step(Network& network, const Batch& batch, Backend& backend) = 0;
  // The outputs evaluation scores (accuracy, loss): the net's forward pass, unless the rule's net computes
  // otherwise (the segregated-dendrite rule simulates a forward phase of spiking neurons).
  virtual const Tensor& infer(Network& network, const Tensor& inputs, Backend& backend) {
    return network.forward(backend, inputs);
  }
  // The parameters the optimiser updates (all by default; ELM trains only the readout).
  virtual std::vector<Parameter*> trainable(Network& network) { return network.parameters(); }
  // Called after every optimiser step: constraints on the weights (FA_Ex's Dale's law).
  virtual void after_update(Network& /*network*/, Backend& /*backend*/) {}
  // Fixed matrices the rule owns rather than a layer (DFA's projection): saved with checkpoints.
  virtual std::vector<Parameter*> rule_parameters() { return {}; }
  // Those of rule_parameters() the step itself changes by a rule of its own that is linear in the trials (the
  // dendrite net's learned feedback): a data-parallel job averages them over the ranks after every step. Fixed
  // ones stay out.
  virtual std::vector<Parameter*> changed_in_step() { return {}; }
  // True when the step sums updates over the ranks itself (Network::sum_over_ranks: learned inverses and
  // feedback with their own optimiser, before its step), so every rank must join every batch.
  virtual bool sums_inside_step() const { return false; }
  // True when the step announces each layer's update as soon as it is final (Network::announce_update, done by
  // Network::backward) and changes no grad of a layer after announcing it: a data-parallel job then starts
  // that layer's sum over the ranks at once. Other rules' updates are summed after their step.
  virtual bool announces_updates() const { return false; }
  // The counters of the rule's own random streams (exploration, perturbations), saved with checkpoints
  // so that a resumed run draws what an unstopped one would have.
  virtual StreamPositions stream_positions() { return {}; }
};

struct RuleInfo {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<Rule>(Options&)> make;
};

// Adds a rule to the registry (the built-in rules are registered on first use; see host/rules/registry.cpp).
void register_rule(RuleInfo info);
const std::vector<RuleInfo>& registered_rules();
// Makes the rule `name` with its options; throws Error for an unknown name or option.
std::unique_ptr<Rule> make_rule(const std::string& name, Options& options);

}  // namespace bioprop
