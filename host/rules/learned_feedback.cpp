// learned_feedback (alias lansdell): Lansdell, Prakash, Kording 2019, "Learning to solve the credit
// assignment problem" (arXiv 1906.00889). Forward weights learn as in feedback alignment, through
// feedback weights B; each B learns to carry the gradient by regressing onto a node-perturbation
// estimate of it (their section 3, as REFERENCES.md reads the authors' code):
//   noise xi_l ~ N(0, sigma^2) on h_l, the input of every weighted layer above the first, all in one
//   noisy pass that repeats the clean pass's dropout masks and noise draws;
//   lambda_l = (L(noisy) - L(clean)) xi_l / sigma^2, an estimate of dL/dh_l, unbiased to first order in
//   sigma; where no layer mixes trials, trial n's own loss change drives its own noise (as `np`). Batch norm
//   mixes trials; by default (`held_statistics`) the noisy pass normalises with the clean pass's batch
//   statistics, held as constants, so each trial's loss change is still its own: the batch's loss change would
//   add the other trials' noise to every estimate, N times the variance (with batch 128 the conv net's B then
//   diverge at lr 0.1). The estimate is then of the gradient with the statistics held, which leaves out batch
//   norm's O(1/N)-per-trial coupling through the statistics;
//   B_l minimises 1/2 ||B_l^T delta_{l+1} - lambda_l||^2 (per trial, batch mean), delta_{l+1} the error that reached
//   the layer above: dB_l = delta_{l+1}^T (B_l^T delta_{l+1} - lambda_l) for dense layers, and for conv
//   (B a transposed convolution with its own kernel) and locally connected layers the same adjoint
//   form (WeightedLayer::feedback_weight_grad);
//   B learns by its own SGD (feedback_lr); `warmup_steps` train B only, forward weights held.
// With `direct`, as in DFA (Nokland 2016), each hidden layer l has its own B_l (classes x width of h_l)
// that carries the output error e straight to h_l (dL/dh_l ~ e B_l, then down through the layers between
// h_l and the weighted layer below it), regressed onto the same estimate: dB_l = e^T (e B_l - lambda_l).
#include <fmt/format.h>

#include <cmath>
#include <optional>

#include "bioprop/error.hpp"
#include "bioprop/optimizer.hpp"
#include "builtin_rules.hpp"
#include "rule_helpers.hpp"

namespace bioprop {
namespace {

struct LearnedFeedbackSettings {
  Loss loss = Loss::cross_entropy;
  FeedbackInit feedback;
  float sigma = 0.1f;
  double feedback_lr = 0.01;
  int warmup_steps = 0;
  bool per_trial = true;
  bool held_statistics = true;
  bool each_layer = false;
  bool direct = false;
};

class LearnedFeedback final : public Rule {
 public:
  LearnedFeedback(std::string name, LearnedFeedbackSettings s) : name_(std::move(name)), s_(s) {}
  std::string name() const override { return name_; }

  void attach(Network& network, Backend& backend, uint64_t seed) override {
    seed_ = seed;
    weighted_ = network.weighted_layers();
    learned_.clear();
    direct_.clear();
    for (size_t k = 0; k < weighted_.size(); ++k) {
      if (s_.direct) {
        if (k == 0) continue;  // B_{k-1}: from the output to h, the input of weighted layer k
        const int width = static_cast<int>(network.activations(weighted_[k]).shape().sample_size());
        direct_.push_back({fmt::format("learned_feedback.direct{}", k - 1), Tensor(), Tensor()});
        const Tensor b_shaped({network.outputs(), width}, backend.device());  // zeros: the spread comes below
        direct_.back().value =
            random_feedback_like(b_shaped, s_.feedback.scale > 0 ? s_.feedback : readout_spread(network, backend),
                                 backend, seed, static_cast<uint64_t>(weighted_[k]) << 40);
        direct_.back().grad = Tensor(direct_.back().value.shape(), backend.device());
        continue;
      }
      auto& layer = weighted(network, weighted_[k]);
      layer.set_feedback_weights(random_feedback_like(layer.weights().value, s_.feedback, backend, seed,
                                                      static_cast<uint64_t>(weighted_[k]) << 40));
      if (k > 0) learned_.push_back(&layer.feedback());  // the first layer's B carries nothing down
    }
    for (Parameter& b : direct_) learned_.push_back(&b);
    Options options("rule 'learned_feedback' feedback optimiser");
    options.set("learning_rate", s_.feedback_lr);
    optimizer_ = make_optimizer("sgd", options);
    optimizer_state_ = optimizer_->state(backend, learned_);
    noise_.assign(weighted_.size(), Tensor());
  }

  std::vector<Parameter*> rule_parameters() override {
    std::vector<Parameter*> all = learned_;
    for (Parameter& p : optimizer_state_) all.push_back(&p);
    return all;
  }
  bool sums_inside_step() const override { return true; }  // B's updates, before its optimiser
  StreamPositions stream_positions() override { return {{"perturbations", &draws_}, {"steps", &steps_}}; }

  StepResult step(Network& network, const Batch& batch, Backend& backend) override {
    const StepResult clean = forward_and_loss(network, batch, backend, s_.loss);
    const bool per_trial = s_.per_trial && !noisy_pass_mixes_samples(network);
    if (per_trial) backend.trial_losses(clean_losses_);
    // FA's pass: every weight's update through B, and in the net's gradient buffers delta_{l+1} (the
    // output gradient of each weighted layer) and B_l^T delta_{l+1} (its input gradient).
    if (s_.direct)
      direct_backward(network, backend);
    else
      network.backward(backend, Pathway::feedback_weights);
    if (weighted_.size() > 1) learn_feedback(network, batch, backend, clean.loss, per_trial);
    if (steps_ < static_cast<uint64_t>(s_.warmup_steps))
      for (Parameter* p : network.parameters()) backend.fill(p->grad, 0.0f);
    ++steps_;
    return clean;
  }

 private:
  static WeightedLayer& weighted(Network& network, int i) { return dynamic_cast<WeightedLayer&>(network.layer(i)); }

  // DFA's default spread for B: the RMS of the readout's weights it stands in for.
  FeedbackInit readout_spread(Network& network, Backend& backend) const {
    const Tensor& w = weighted(network, network.weighted_layers().back()).weights().value;
    return {s_.feedback.distribution, std::sqrt(backend.sum_of_squares(w) / static_cast<double>(w.numel()))};
  }

  // The readout learns from e; hidden layer k from dL/dh = e B_k at the input of weighted layer k + 1,
  // carried down through the layers between (activation, batch norm, pooling, dropout).
  void direct_backward(Network& network, Backend& backend) {
    const Tensor& error = network.gradient(network.size());
    const int readout = weighted_.back();
    network.layer(readout).weight_grad(backend, network.activations(readout), network.gradient(readout + 1), 0.0f);
    for (size_t k = 0; k + 1 < weighted_.size(); ++k) {
      const int layer = weighted_[k], target = weighted_[k + 1];
      Tensor& at_target = network.gradient(target);
      Tensor flat = at_target.reshaped({at_target.dim(0), static_cast<int>(at_target.shape().sample_size())});
      backend.gemm(false, false, 1.0f, error, direct_[k].value, 0.0f, flat);
      backward_down_to_weights(network, backend, target - 1, layer);
    }
  }

  bool noisy_pass_mixes_samples(Network& network) const {
    if (!s_.held_statistics) return network.mixes_samples();
    const HoldBatchStatistics held(network);
    return network.mixes_samples();
  }

  // One noisy pass with every layer's noise at once (the paper's), or with `each_layer` one pass per B with its
  // own layer's noise alone, from that layer up: then no other layer's noise enters a layer's estimate (on the
  // conv net the 25k-wide first hidden activity would otherwise dominate the readout's), for the price of the
  // partial passes. Top down, so each pass finds its layer's input as the clean pass left it.
  void learn_feedback(Network& network, const Batch& batch, Backend& backend, float clean_loss, bool per_trial) {
    const RepeatDraws same_draws(network);
    std::optional<HoldBatchStatistics> held;
    if (s_.held_statistics) held.emplace(network);
    if (s_.each_layer) {
      for (size_t k = weighted_.size() - 1; k >= 1; --k) {
        add_noise(network, backend, k);
        network.forward_range(backend, weighted_[k], network.size());
        regress_feedback(network, backend, k, noisy_loss_change(network, batch, backend, clean_loss, per_trial),
                         per_trial);
      }
    } else {
      for (size_t k = 1; k < weighted_.size(); ++k) {
        if (k > 1) network.forward_range(backend, weighted_[k - 1], weighted_[k]);
        add_noise(network, backend, k);
      }
      network.forward_range(backend, weighted_.back(), network.size());
      const float change = noisy_loss_change(network, batch, backend, clean_loss, per_trial);
      for (size_t k = 1; k < weighted_.size(); ++k) regress_feedback(network, backend, k, change, per_trial);
    }
    ++draws_;
    if (static_cast<uint64_t>(optimizer_->steps()) != steps_) optimizer_->set_steps(static_cast<int>(steps_));
    network.sum_over_ranks(backend, learned_);  // data-parallel: the global batch's feedback update
    optimizer_->step(backend, learned_);
  }

  // xi_k ~ N(0, sigma^2) added to h_k, the input of weighted layer k.
  void add_noise(Network& network, Backend& backend, size_t k) {
    Tensor& h = network.mutable_activations(weighted_[k]);
    noise_[k].resize(h.shape(), backend.device());
    backend.random_normal(noise_[k], 0.0f, s_.sigma, seed_ ^ 0x1A5DE11ULL,
                          (draws_ << 32) + (static_cast<uint64_t>(k) << 24), network.first_draw(noise_[k]));
    backend.axpy(1.0f, noise_[k], h);
  }

  // The noisy pass's loss minus the clean one's: per trial into changes_ (returns 0), or the batch's.
  float noisy_loss_change(Network& network, const Batch& batch, Backend& backend, float clean_loss, bool per_trial) {
    const float noisy_loss = loss_of(backend, s_.loss, network.output(), batch.labels, noisy_output_gradient_);
    if (!per_trial) return noisy_loss - clean_loss;
    backend.trial_losses(changes_);
    backend.axpy(-1.0f, clean_losses_, changes_);  // each trial's own dL_n
    return 0.0f;
  }

  // B_k's regression gradient from the estimate lambda_k = dL xi_k / sigma^2.
  void regress_feedback(Network& network, Backend& backend, size_t k, float batch_change, bool per_trial) {
    const int j = weighted_[k];
    const float n = static_cast<float>(network.gradient(j).dim(0)), weight = 1.0f / (s_.sigma * s_.sigma);
    // lambda = dL xi / sigma^2 (per trial: (1/N) dL_n xi_n / sigma^2, the mean loss's gradient), then the
    // residual B^T delta - lambda in place of lambda.
    estimate_.resize(noise_[k].shape(), backend.device());
    if (per_trial)
      backend.scale_samples(noise_[k], changes_, weight / n, estimate_);
    else
      backend.linear_combination(batch_change * weight, noise_[k], 0.0f, noise_[k], 0.0f, noise_[k], estimate_);
    // delta and lambda are gradients of the batch's mean loss (1/N of each trial's): N times the residual
    // makes dB the batch mean of each trial's own regression gradient e_n (B^T e_n - lambda_n), so
    // feedback_lr does not depend on the batch size.
    backend.linear_combination(n, network.gradient(j), -n, estimate_, 0.0f, estimate_, estimate_);
    if (s_.direct) {
      const Tensor residual = estimate_.reshaped({estimate_.dim(0), static_cast<int>(estimate_.shape().sample_size())});
      backend.gemm(true, false, 1.0f, network.gradient(network.size()), residual, 0.0f, direct_[k - 1].grad);
    } else {
      weighted(network, j).feedback_weight_grad(backend, estimate_, network.gradient(j + 1));
    }
  }

  std::string name_;
  LearnedFeedbackSettings s_;
  std::vector<int> weighted_;
  std::vector<Parameter*> learned_;
  std::vector<Parameter> direct_;  // direct: B_k (classes x width) per hidden layer
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<Parameter> optimizer_state_;
  std::vector<Tensor> noise_;
  Tensor clean_losses_, changes_, estimate_, noisy_output_gradient_;
  uint64_t seed_ = 0, draws_ = 0, steps_ = 0;
};

RuleInfo make_info(const std::string& name) {
  return {
      name,
      "learned feedback (Lansdell et al. 2019): FA through B, each B regressed onto a node-perturbation "
      "estimate of the gradient; options sigma [0.1], feedback_lr [0.01], warmup_steps [0: B-only steps], "
      "per_trial [true], held_statistics [true: batch norm keeps the clean pass's statistics in the noisy "
      "pass, so the estimate stays per trial], each_layer [false: one noisy pass with every layer's noise; true: "
      "one pass per B with its layer's noise alone], direct [false: per layer; true: DFA-like, from the output to each "
      "hidden layer], "
      "feedback_init, feedback_scale, loss",
      [name](Options& options) -> std::unique_ptr<Rule> {
        LearnedFeedbackSettings s;
        s.loss = parse_loss(options.get_string("loss", "cross_entropy"), options.where());
        s.feedback = read_feedback_init(options);
        s.sigma = static_cast<float>(options.get_number("sigma", s.sigma));
        s.feedback_lr = options.get_number("feedback_lr", s.feedback_lr);
        s.warmup_steps = options.get_int("warmup_steps", s.warmup_steps);
        s.per_trial = options.get_bool("per_trial", s.per_trial);
        s.held_statistics = options.get_bool("held_statistics", s.held_statistics);
        s.each_layer = options.get_bool("each_layer", s.each_layer);
        s.direct = options.get_bool("direct", s.direct);
        if (!(s.sigma > 0)) fail("{}: 'sigma' must be > 0, got {}", options.where(), s.sigma);
        if (!(s.feedback_lr >= 0)) fail("{}: 'feedback_lr' must be >= 0, got {}", options.where(), s.feedback_lr);
        if (s.warmup_steps < 0) fail("{}: 'warmup_steps' must be >= 0, got {}", options.where(), s.warmup_steps);
        return std::make_unique<LearnedFeedback>(name, s);
      }};
}

}  // namespace

RuleInfo learned_feedback_rule_info() { return make_info("learned_feedback"); }
RuleInfo lansdell_rule_info() { return make_info("lansdell"); }

}  // namespace bioprop
