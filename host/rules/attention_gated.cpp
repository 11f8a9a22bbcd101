// Q-AGREL (Pozzi, Bohte, Roelfsema 2018) and BrainProp (Pozzi, Bohte, Roelfsema, NeurIPS 2020):
// reward-based, attention-gated credit assignment.
//
// The output units hold action values Z. Per trial the net selects one action a (attention_gate),
// receives r = [a == label] and the reward-prediction error delta = r - Z_a. Only the chosen unit
// sends feedback: the attention tags are g_L = onehot(a) and g_l = (B_{l+1} g_{l+1}) * f'(a_l),
// carried by explicit feedback weights B. Every synapse then changes by a three-factor rule,
//   dW_l = lr * delta * g_l h_{l-1}^T   (pre-synaptic activity x tag x global neuromodulator),
// which is exactly backprop's gradient of 1/2 (r - Z_a)^2 for the chosen unit when B = W (2020
// paper, section 3). Feedback synapses see the same pre x post x delta product, so B learns by the
// same local rule and stays equal to W when it starts equal.
//
// The two presets differ only in the exploration policy, following each paper's choice:
//   brainprop: epsilon = 0.02, exploring by sampling from softmax(Z) (the reference code);
//   qagrel:    epsilon = 0.05 with a Max-Boltzmann controller (greedy, else Boltzmann at T = 1).
// Both use linear output units (Z are action values) and the squared RPE as their objective.
#include <cmath>

#include "bioprop/error.hpp"
#include "builtin_rules.hpp"
#include "rule_helpers.hpp"

namespace bioprop {
namespace {

enum class FeedbackKind { symmetric, fixed_random };

class AttentionGated final : public Rule {
 public:
  AttentionGated(std::string name, ExplorationPolicy policy, FeedbackKind feedback)
      : name_(std::move(name)), policy_(policy), feedback_(feedback) {}
  std::string name() const override { return name_; }

  void attach(Network& network, Backend& backend, uint64_t seed) override {
    network.set_buffer_reuse(true);  // the tags of one layer at a time, top down
    seed_ = seed;
    for (int i = 0; i < network.size(); ++i) {
      auto* layer = dynamic_cast<WeightedLayer*>(&network.layer(i));
      if (!layer) continue;
      if (feedback_ == FeedbackKind::symmetric) {
        layer->set_feedback_weights(layer->weights().value.clone(), /*learns=*/true);
      } else {  // reward-based feedback alignment: a fixed random B with the spread of W
        layer->set_feedback_weights(
            random_feedback_like(layer->weights().value, {}, backend, seed, static_cast<uint64_t>(i) << 40), false);
      }
    }
    modulated_.resize(static_cast<size_t>(network.size()) + 1);
    fixed_feedback_.clear();
    if (feedback_ == FeedbackKind::fixed_random)
      for (int i : network.weighted_layers())
        fixed_feedback_.push_back(&dynamic_cast<WeightedLayer&>(network.layer(i)).feedback());
  }

  // A fixed random B is saved with checkpoints (a learning B already is, as a net parameter).
  std::vector<Parameter*> rule_parameters() override { return fixed_feedback_; }
  bool announces_updates() const override { return true; }  // each layer in the step's loop

  StreamPositions stream_positions() override { return {{"exploration", &step_}}; }

  StepResult step(Network& network, const Batch& batch, Backend& backend) override {
    if (modulated_.empty()) fail("rule '{}' was not attached to the net", name_);
    const Tensor& values = network.forward(backend, batch.inputs);
    const int trials = batch.size();
    // Each step draws from its own range of 2^32 Philox blocks (2 draws per trial, 4 per block).
    backend.attention_gate(values, batch.labels, policy_, seed_, step_ << 32, gate_, network.gradient(network.size()),
                           network.first_trial());
    ++step_;

    // The modulator: descending 1/(2N) sum_b (r_b - Z_{a_b})^2 moves W by +lr/N delta_b g h^T.
    const float modulation = -1.0f / static_cast<float>(trials);
    // Batch norm (in training) mixes the trials of a batch, so a tag at a lower layer carries other
    // trials' feedback and may not be scaled by its own trial's delta: the RPE then enters at the
    // output, and the update stays the gradient of the chosen units' squared error.
    const bool modulate_at_output = network.mixes_samples();
    if (modulate_at_output) {
      Tensor& output_tags = network.gradient(network.size());
      Tensor& scaled = modulated_.back();
      scaled.resize(output_tags.shape(), backend.device());
      backend.scale_samples(output_tags, gate_.rpe, modulation, scaled);
      backend.copy(scaled, output_tags);
    }
    for (int i = network.size() - 1; i >= 0; --i) {
      Layer& layer = network.layer(i);
      const Tensor& tags = network.gradient(i + 1);
      Tensor* dtags = i > 0 ? &network.gradient(i) : nullptr;
      const Tensor &pre = network.activations(i), &post = network.activations(i + 1);
      if (layer.parameters().empty()) {
        if (dtags) layer.backward_data(backend, pre, post, tags, *dtags, Pathway::feedback_weights);
        continue;
      }
      if (modulate_at_output) {
        layer.backward(backend, pre, post, tags, dtags, 0.0f, Pathway::feedback_weights);
      } else {  // the three-factor update: delta_b x tag x pre-synaptic activity
        layer.modulated_weight_grad(backend, pre, tags, gate_.rpe, modulation, modulated_[static_cast<size_t>(i)]);
        if (dtags) layer.backward_data(backend, pre, post, tags, *dtags, Pathway::feedback_weights);
      }
      auto* weighted = dynamic_cast<WeightedLayer*>(&layer);
      if (weighted && feedback_ == FeedbackKind::symmetric)
        backend.copy(weighted->weights().grad, weighted->feedback().grad);
      network.announce_update(i);
    }

    const ScoredLoss scored = backend.score_gate(gate_);
    return {scored.loss, scored.correct};
  }

 private:
  std::string name_;
  ExplorationPolicy policy_;
  FeedbackKind feedback_;
  uint64_t seed_ = 0, step_ = 0;
  GateOutputs gate_;
  std::vector<Tensor> modulated_;  // per layer (and the output): tags scaled by the trial's RPE
  std::vector<Parameter*> fixed_feedback_;
};

RuleInfo attention_gated_info(const std::string& name, ExplorationPolicy defaults, const std::string& description) {
  return {name, description, [name, defaults](Options& options) -> std::unique_ptr<Rule> {
            ExplorationPolicy policy;
            policy.epsilon = static_cast<float>(options.get_number("epsilon", defaults.epsilon));
            policy.temperature = static_cast<float>(options.get_number("temperature", defaults.temperature));
            if (policy.epsilon < 0 || policy.epsilon > 1)
              fail("{}: 'epsilon' must be in [0, 1], got {}", options.where(), policy.epsilon);
            if (!(policy.temperature > 0))
              fail("{}: 'temperature' must be > 0, got {}", options.where(), policy.temperature);
            const std::string feedback = options.get_string("feedback", "symmetric");
            if (feedback != "symmetric" && feedback != "random")
              fail("{}: 'feedback' must be \"symmetric\" or \"random\", got \"{}\"", options.where(), feedback);
            return std::make_unique<AttentionGated>(
                name, policy, feedback == "symmetric" ? FeedbackKind::symmetric : FeedbackKind::fixed_random);
          }};
}

}  // namespace

RuleInfo brainprop_rule_info() {
  return attention_gated_info("brainprop", {0.02f, 1.0f},
                              "BrainProp (Pozzi et al. 2020): reward-based, attention-gated; options epsilon [0.02], "
                              "temperature [1], feedback = symmetric | random");
}

RuleInfo qagrel_rule_info() {
  return attention_gated_info("qagrel", {0.05f, 1.0f},
                              "Q-AGREL (Pozzi et al. 2018): reward-based, Max-Boltzmann exploration; options epsilon "
                              "[0.05], temperature [1], feedback = symmetric | random");
}

}  // namespace bioprop
