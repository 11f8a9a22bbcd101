// Perturbation rules: the gradient is estimated from the change of the loss under random noise,
// with no feedback pathway at all. With noise xi ~ N(0, sigma^2) and dL = L(perturbed) - L(clean),
//   wp (weight perturbation): grad_W ~ dL * xi_W / sigma^2, xi_W added to every weight;
//   np (node perturbation):   dL/da_l ~ dL * xi_l / sigma^2, xi_l added to every weighted layer's
//                             pre-activation a_l; then dW_l = (dL/da_l) h_{l-1}^T as in bp. Where no
//                             layer mixes trials, trial n uses its own loss change: dL/da_l[n] ~
//                             (1/N) dL_n * xi_l[n] / sigma^2 (option per_trial, on by default).
// Both are unbiased to first order in sigma; `perturbations` estimates are averaged per batch. The
// perturbed passes repeat the clean pass's dropout masks and activity noise and leave batch norm's
// running statistics alone (Network::set_repeat_draws), so dL is the perturbation's effect alone (a new
// mask moved the loss five times more than a weight perturbation did); np's weight gradient uses the
// clean pass's layer inputs.
#include "bioprop/error.hpp"
#include "builtin_rules.hpp"
#include "rule_helpers.hpp"

namespace bioprop {
namespace {

struct PerturbationSettings {
  bool nodes = false;  // np; else wp
  Loss loss = Loss::cross_entropy;
  float sigma = 1e-2f;
  int perturbations = 1;
  // np on nets where no layer mixes trials: each trial's loss change drives only that trial's noise.
  bool per_trial = true;
};

class Perturbation final : public Rule {
 public:
  explicit Perturbation(PerturbationSettings s) : s_(s) {}
  std::string name() const override { return s_.nodes ? "np" : "wp"; }

  void attach(Network& network, Backend& backend, uint64_t seed) override {
    seed_ = seed;
    weighted_ = network.weighted_layers();
    noise_.clear();
    saved_.clear();
    if (!s_.nodes)
      for (Parameter* p : network.parameters()) {
        noise_.emplace_back(p->value.shape(), backend.device());
        saved_.emplace_back(p->value.shape(), backend.device());
      }
    else
      noise_.resize(weighted_.size());
    clean_inputs_.assign(s_.nodes ? weighted_.size() : 0, Tensor());
  }

  // np estimates the gradient at the weighted layers' pre-activations only, so only their parameters
  // learn (batch norm's scale and shift stay as they are); wp perturbs and trains every parameter.
  std::vector<Parameter*> trainable(Network& network) override {
    if (!s_.nodes) return network.parameters();
    std::vector<Parameter*> chosen;
    for (int i : network.weighted_layers())
      for (Parameter* p : network.layer(i).parameters()) chosen.push_back(p);
    return chosen;
  }

  StreamPositions stream_positions() override { return {{"perturbations", &draws_}}; }

  StepResult step(Network& network, const Batch& batch, Backend& backend) override {
    const StepResult clean = forward_and_loss(network, batch, backend, s_.loss);
    for (size_t j = 0; j < clean_inputs_.size(); ++j) {
      const Tensor& input = network.activations(weighted_[j]);
      clean_inputs_[j].resize(input.shape(), backend.device());
      backend.copy(input, clean_inputs_[j]);
    }
    // Where no layer mixes the trials of a batch, trial n's noise changes only trial n's loss: the
    // estimate of dL/da_l[n] = (1/N) dL_n/da_l[n] then uses that trial's own loss change, not the batch's,
    // which leaves out the other trials' noise (N times less variance for N independent trials).
    const bool per_trial = s_.nodes && s_.per_trial && !network.mixes_samples();
    if (per_trial) backend.trial_losses(clean_losses_);
    const RepeatDraws same_draws(network);
    const auto parameters = network.parameters();
    const float weight = 1.0f / (s_.sigma * s_.sigma * static_cast<float>(s_.perturbations));
    for (int trial = 0; trial < s_.perturbations; ++trial, ++draws_) {
      const float change =
          (s_.nodes ? perturb_nodes(network, batch, backend) : perturb_weights(network, batch, backend, parameters)) -
          clean.loss;
      const float beta = trial == 0 ? 0.0f : 1.0f;
      if (per_trial) {
        backend.trial_losses(trial_changes_);
        backend.axpy(-1.0f, clean_losses_, trial_changes_);  // dL_n of every trial
        for (size_t j = 0; j < weighted_.size(); ++j) {
          scaled_.resize(noise_[j].shape(), backend.device());
          backend.scale_samples(noise_[j], trial_changes_, weight / static_cast<float>(batch.size()), scaled_);
          network.layer(weighted_[j]).weight_grad(backend, clean_inputs_[j], scaled_, beta);
        }
      } else if (s_.nodes) {
        for (size_t j = 0; j < weighted_.size(); ++j) {
          const int i = weighted_[j];
          backend.scale(change * weight, noise_[j]);  // the estimate of dL/da_l, in place of the noise
          network.layer(i).weight_grad(backend, clean_inputs_[j], noise_[j], beta);
        }
      } else {
        for (size_t p = 0; p < parameters.size(); ++p) {
          if (beta == 0.0f) backend.fill(parameters[p]->grad, 0.0f);
          backend.axpy(change * weight, noise_[p], parameters[p]->grad);
        }
      }
    }
    return clean;
  }

 private:
  // Noise for parameter or layer `index` of the current draw: its own Philox stream, from element `first` (a
  // layer's per-trial noise starts at the rank's place in the global batch; a weight's is the same everywhere).
  void draw(Tensor& noise, size_t index, Backend& backend, uint64_t first) {
    backend.random_normal(noise, 0.0f, s_.sigma, seed_ ^ 0x9E27u, (draws_ << 32) + (static_cast<uint64_t>(index) << 24),
                          first);
  }

  float perturb_weights(Network& network, const Batch& batch, Backend& backend,
                        const std::vector<Parameter*>& parameters) {
    for (size_t p = 0; p < parameters.size(); ++p) {
      draw(noise_[p], p, backend, 0);
      backend.copy(parameters[p]->value, saved_[p]);
      backend.axpy(1.0f, noise_[p], parameters[p]->value);
    }
    network.forward(backend, batch.inputs);
    const float loss = compute_loss(backend, s_.loss, network, batch.labels);
    for (size_t p = 0; p < parameters.size(); ++p) backend.copy(saved_[p], parameters[p]->value);  // exact restore
    return loss;
  }

  // A forward pass with noise added to the output of every weighted layer (its pre-activation).
  float perturb_nodes(Network& network, const Batch& batch, Backend& backend) {
    int next = 0;
    for (size_t j = 0; j < weighted_.size(); ++j) {
      const int i = weighted_[j];
      network.forward_range(backend, next, i + 1);
      Tensor& output = network.mutable_activations(i + 1);
      noise_[j].resize(output.shape(), backend.device());
      draw(noise_[j], j, backend, network.first_draw(noise_[j]));
      backend.axpy(1.0f, noise_[j], output);
      next = i + 1;
    }
    network.forward_range(backend, next, network.size());
    return compute_loss(backend, s_.loss, network, batch.labels);
  }

  PerturbationSettings s_;
  uint64_t seed_ = 0, draws_ = 0;
  std::vector<int> weighted_;
  std::vector<Tensor> noise_, saved_, clean_inputs_;
  Tensor clean_losses_, trial_changes_, scaled_;  // np's per-trial estimate
};

RuleInfo make_info(bool nodes) {
  return {nodes ? "np" : "wp",
          nodes ? "node perturbation: noise on pre-activations; options sigma [0.01], perturbations [1], loss, "
                  "per_trial [true: each trial's own loss change where no layer mixes trials]"
                : "weight perturbation: noise on every weight; options sigma [0.01], perturbations [1], loss",
          [nodes](Options& options) -> std::unique_ptr<Rule> {
            PerturbationSettings s;
            s.nodes = nodes;
            s.loss = parse_loss(options.get_string("loss", "cross_entropy"), options.where());
            s.sigma = static_cast<float>(options.get_number("sigma", s.sigma));
            s.perturbations = options.get_int("perturbations", s.perturbations);
            if (nodes) s.per_trial = options.get_bool("per_trial", s.per_trial);
            if (!(s.sigma > 0)) fail("{}: 'sigma' must be > 0, got {}", options.where(), s.sigma);
            if (s.perturbations < 1) fail("{}: 'perturbations' must be >= 1, got {}", options.where(), s.perturbations);
            return std::make_unique<Perturbation>(s);
          }};
}

}  // namespace

RuleInfo wp_rule_info() { return make_info(false); }
RuleInfo np_rule_info() { return make_info(true); }

}  // namespace bioprop
