// The target-propagation rules: tp, dtp, dtp_parallel, sdtp, ao_sdtp (target_propagation.hpp says
// what each computes and cites the papers).
#include "target_propagation.hpp"

#include <cmath>

#include "bioprop/error.hpp"
#include "builtin_rules.hpp"
#include "rule_helpers.hpp"

namespace bioprop {
namespace {

Parameter glorot_parameter(const std::string& name, const Shape& shape, int fan_in, int fan_out, Backend& backend,
                           uint64_t seed, uint64_t stream) {
  Parameter p{name, Tensor(shape, backend.device()), Tensor(shape, backend.device())};
  const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
  backend.random_uniform(p.value, -limit, limit, seed, stream);
  return p;
}

// Backprop inside one block only: its layers' weight gradients for dL/dh_l = dy_top, and dL/dh_{l-1}
// in network.gradient(block.first) when `input_gradient` (dtp's one gradient step below the output).
void backprop_block(Network& network, const Block& block, const Tensor& dy_top, bool input_gradient, Backend& backend) {
  for (int i = block.last - 1; i >= block.first; --i) {
    const Tensor& dy = i == block.last - 1 ? dy_top : network.gradient(i + 1);
    Tensor* dx = i > block.first || input_gradient ? &network.gradient(i) : nullptr;
    network.layer(i).backward(backend, network.activations(i), network.activations(i + 1), dy, dx, 0.0f,
                              Pathway::forward_weights);
  }
}

void keep_copy(Backend& backend, const Tensor& from, const Shape& shape, Tensor& kept) {
  kept.resize(shape, backend.device());
  backend.copy(from.reshaped(shape), kept);
}

std::string to_string(TargetVariant v) {
  switch (v) {
    case TargetVariant::tp:
      return "tp";
    case TargetVariant::dtp:
      return "dtp";
    case TargetVariant::dtp_parallel:
      return "dtp_parallel";
    case TargetVariant::sdtp:
      return "sdtp";
    case TargetVariant::ao_sdtp:
      return "ao_sdtp";
  }
  return "?";
}

}  // namespace

OutputInverse::OutputInverse(int outputs, int aux_units, int hidden, std::optional<Activation> f, Backend& backend,
                             uint64_t seed)
    : f_(f) {
  from_outputs_ = glorot_parameter("inverse_output.from_outputs", {hidden, outputs}, outputs + aux_units, hidden,
                                   backend, seed, 1ULL << 40);
  if (aux_units > 0)
    from_aux_ = glorot_parameter("inverse_output.from_aux", {hidden, aux_units}, outputs + aux_units, hidden, backend,
                                 seed, 2ULL << 40);
  bias_ = {"inverse_output.bias", Tensor({hidden}, backend.device()), Tensor({hidden}, backend.device()), false};
}

const Tensor& OutputInverse::forward(Backend& backend, const Tensor& p, const Tensor& z) {
  pre_.resize({p.dim(0), bias_.value.dim(0)}, backend.device());
  backend.gemm(false, true, 1.0f, p, from_outputs_.value, 0.0f, pre_);
  if (!z.empty()) backend.gemm(false, true, 1.0f, z, from_aux_.value, 1.0f, pre_);
  backend.add_bias(pre_, bias_.value);
  if (!f_) return pre_;
  out_.resize(pre_.shape(), backend.device());
  backend.activation_forward(*f_, pre_, out_);
  return out_;
}

void OutputInverse::backward(Backend& backend, const Tensor& p, const Tensor& z, const Tensor& dr) {
  dpre_.resize(pre_.shape(), backend.device());
  if (f_)
    backend.activation_backward(*f_, pre_, out_, dr, dpre_);
  else
    backend.copy(dr, dpre_);
  backend.gemm(true, false, 1.0f, dpre_, p, 0.0f, from_outputs_.grad);
  if (!z.empty()) backend.gemm(true, false, 1.0f, dpre_, z, 0.0f, from_aux_.grad);
  backend.bias_grad(dpre_, 0.0f, bias_.grad);
}

std::vector<Parameter*> OutputInverse::parameters() {
  std::vector<Parameter*> all{&from_outputs_, &bias_};
  if (!from_aux_.value.empty()) all.push_back(&from_aux_);
  return all;
}

void TargetPropagation::add_inverse_training(size_t l, std::vector<Parameter*> parameters, Backend& backend) {
  const size_t k = l - 1;  // position in the per-inverse lists (their lengths checked by attach)
  Options options("rule '" + name() + "' inverse optimiser");
  options.set("learning_rate", s_.layer_inverse_lrs.empty() ? s_.inverse_lr : s_.layer_inverse_lrs[k]);
  InverseTraining& t = training_[l];
  t.sigma = static_cast<float>(s_.layer_sigmas.empty() ? s_.sigma : s_.layer_sigmas[k]);
  t.optimizer = make_optimizer(s_.inverse_optimizer, options);
  t.state = t.optimizer->state(backend, parameters);
  t.parameters = std::move(parameters);
}

std::string TargetPropagation::name() const { return to_string(s_.variant); }

bool TargetPropagation::uses_output_inverse() const {
  return s_.variant == TargetVariant::sdtp || s_.variant == TargetVariant::ao_sdtp;
}

void TargetPropagation::attach(Network& network, Backend& backend, uint64_t seed) {
  seed_ = seed;
  blocks_ = blocks_of(network);
  shapes_ = sample_shapes(network);
  const size_t blocks = blocks_.size();
  if (blocks < 2) fail("rule '{}' needs a net with a hidden layer", name());
  const size_t inverses = blocks - (uses_output_inverse() ? 1 : 2);
  for (const auto& [list, key] :
       {std::pair{&s_.layer_sigmas, "layer_sigmas"}, {&s_.layer_inverse_lrs, "layer_inverse_lrs"}})
    if (!list->empty() && list->size() != inverses)
      fail("rule '{}': '{}' has {} values for the net's {} inverses (g_2 .. g_L, bottom up)", name(), key, list->size(),
           inverses);
  inverses_.clear();
  inverses_.resize(blocks - 1);
  output_inverse_.reset();
  training_.clear();
  training_.resize(blocks);
  aux_weights_ = Parameter{};
  if (uses_output_inverse()) {
    const int hidden = static_cast<int>(shapes_[static_cast<size_t>(blocks_.back().first)].numel());
    const int aux = s_.variant == TargetVariant::ao_sdtp ? s_.aux_units : 0;
    output_inverse_ = std::make_unique<OutputInverse>(
        network.outputs(), aux, hidden, output_activation(network, blocks_[blocks - 2]), backend, seed ^ 0x0A17ULL);
    if (aux > 0) {  // R: fixed random projection of h_{L-1} onto the auxiliary units, N(0, 1/D)
      aux_weights_ = {"inverse_output.auxiliary_projection", Tensor({aux, hidden}, backend.device()), Tensor(), false};
      backend.random_normal(aux_weights_.value, 0.0f, 1.0f / std::sqrt(static_cast<float>(hidden)), seed ^ 0xA0A0ULL,
                            0);
    }
  }
  for (size_t l = 1; l + 1 < blocks; ++l) {
    inverses_[l] = make_inverse(network, blocks_, l, shapes_, backend, seed);
    add_inverse_training(l, inverses_[l]->parameters(), backend);
  }
  if (output_inverse_) add_inverse_training(blocks - 1, output_inverse_->parameters(), backend);
  targets_.assign(blocks - 1, Tensor());
  reconstruction_loss_.assign(blocks, 0.0);
  scratch_.assign(static_cast<size_t>(network.size()) + 1, Tensor());
}

std::vector<Parameter*> TargetPropagation::rule_parameters() {
  std::vector<Parameter*> all;
  for (InverseTraining& t : training_) {
    all.insert(all.end(), t.parameters.begin(), t.parameters.end());
    for (Parameter& p : t.state) all.push_back(&p);
  }
  if (!aux_weights_.value.empty()) all.push_back(&aux_weights_);
  return all;
}

StreamPositions TargetPropagation::stream_positions() {
  return {{"inverse_noise", &draws_}, {"inverse_updates", &inverse_updates_}};
}

StepResult TargetPropagation::step(Network& network, const Batch& batch, Backend& backend) {
  const StepResult result = forward_and_loss(network, batch, backend, Loss::cross_entropy);
  if (output_inverse_) make_one_hot(backend, batch.labels, network.output().shape());
  const bool parallel = s_.variant == TargetVariant::dtp_parallel;
  if (!parallel) {
    for (int k = 0; k < s_.inverse_steps; ++k) train_inverses(network, batch, backend);
    // The corrupted passes overwrote what layers keep for their backward pass (batch norm's batch
    // statistics): a clean pass with the same draws restores it and leaves the running statistics alone.
    const RepeatDraws same_draws(network);
    network.forward(backend, batch.inputs);
  }
  compute_targets(network, batch, backend);
  update_forward_weights(network, backend);
  if (parallel)
    for (int k = 0; k < s_.inverse_steps; ++k) train_inverses(network, batch, backend);
  return result;
}

const Tensor& TargetPropagation::run_block(Network& network, size_t b, const Tensor& x, Backend& backend) {
  const Tensor* in = &x;
  for (int i = blocks_[b].first; i < blocks_[b].last; ++i) {
    Tensor& out = scratch_[static_cast<size_t>(i) + 1];
    out.resize(network.activations(i + 1).shape(), backend.device());
    network.layer(i).forward(backend, *in, out);
    in = &out;
  }
  return *in;
}

// The one-hot labels y, which the mean squared error of zero outputs gives as -y / N: no host round
// trip, no extra kernel. Once per step: the labels do not change within it.
void TargetPropagation::make_one_hot(Backend& backend, const Tensor& labels, const Shape& logits) {
  label_probs_.resize(logits, backend.device());
  backend.fill(label_probs_, 0.0f);
  one_hot_.resize(logits, backend.device());
  backend.mean_squared_error(label_probs_, labels, one_hot_);
  backend.scale(-static_cast<float>(logits[0]), one_hot_);
}

// softmax(logits) from the loss's gradient, (softmax - y) / N, and the one-hot labels of make_one_hot.
void TargetPropagation::output_probabilities(Backend& backend, const Tensor& logits, const Tensor& labels, Tensor& p) {
  p.resize(logits.shape(), backend.device());
  backend.softmax_cross_entropy(logits, labels, p);
  backend.linear_combination(static_cast<float>(logits.dim(0)), p, 1.0f, one_hot_, 0.0f, p, p);
}

void TargetPropagation::auxiliary_units(Backend& backend, const Tensor& penultimate, Tensor& z) {
  if (aux_weights_.value.empty()) return;
  const int n = penultimate.dim(0);
  const Tensor flat = penultimate.reshaped({n, static_cast<int>(penultimate.shape().sample_size())});
  aux_pre_.resize({n, aux_weights_.value.dim(0)}, backend.device());
  backend.gemm(false, true, 1.0f, flat, aux_weights_.value, 0.0f, aux_pre_);
  z.resize(aux_pre_.shape(), backend.device());
  backend.activation_forward(Activation::tanh, aux_pre_, z);
}

void TargetPropagation::train_inverses(Network& network, const Batch& batch, Backend& backend) {
  const RepeatDraws same_draws(network);  // the corrupted passes reuse the clean pass's dropout masks
  const float n = static_cast<float>(batch.size());
  const size_t blocks = blocks_.size();
  // h~_{l-1} = h_{l-1} + N(0, sigma^2), and the reconstruction error g_l(f_l(h~)) - h~ (the inverse loss).
  const auto corrupt = [&](size_t l) {
    const Tensor& clean = network.activations(blocks_[l].first);
    noisy_.resize(clean.shape(), backend.device());
    backend.random_normal(noisy_, 0.0f, training_[l].sigma, seed_ ^ 0x7A9EULL,
                          (draws_ << 32) + (static_cast<uint64_t>(l) << 24), network.first_draw(noisy_));
    backend.axpy(1.0f, clean, noisy_);
  };
  const auto reconstruction_error = [&](size_t l, const Tensor& r, Tensor& dr) {
    dr.resize(r.shape(), backend.device());
    // d/dr of the batch mean of ||r - h~||^2, and that mean: sum of ((n / 2) dr)^2 / n
    backend.linear_combination(2.0f / n, r, -2.0f / n, noisy_.reshaped(r.shape()), 0.0f, r, dr);
    reconstruction_loss_[l] = backend.sum_of_squares(dr) * n / 4.0;
  };
  for (size_t l = 1; l + 1 < blocks; ++l) {
    corrupt(l);
    Network& g = *inverses_[l];
    const Tensor& r = g.forward(backend, run_block(network, l, noisy_, backend));
    reconstruction_error(l, r, g.gradient(g.size()));
    g.backward(backend, Pathway::forward_weights);
  }
  if (output_inverse_) {
    corrupt(blocks - 1);
    output_probabilities(backend, run_block(network, blocks - 1, noisy_, backend), batch.labels, probabilities_);
    auxiliary_units(backend, noisy_, noisy_aux_);
    const Tensor& r = output_inverse_->forward(backend, probabilities_, noisy_aux_);
    reconstruction_error(blocks - 1, r, difference_);
    output_inverse_->backward(backend, probabilities_, noisy_aux_, difference_);
  }
  ++draws_;
  // A resumed run restores the update count (Adam's bias correction) through stream_positions().
  for (InverseTraining& t : training_) {
    if (!t.optimizer) continue;
    if (static_cast<uint64_t>(t.optimizer->steps()) != inverse_updates_)
      t.optimizer->set_steps(static_cast<int>(inverse_updates_));
    network.sum_over_ranks(backend, t.parameters);  // data-parallel: the global batch's inverse update
    t.optimizer->step(backend, t.parameters);
  }
  ++inverse_updates_;
}

void TargetPropagation::compute_targets(Network& network, const Batch& batch, Backend& backend) {
  const size_t blocks = blocks_.size();
  const Block& output = blocks_.back();
  const Tensor& penultimate = network.activations(output.first);
  Tensor& top = targets_[blocks - 2];
  top.resize(penultimate.shape(), backend.device());
  // Difference targets t = h + g(t_above) - g(h_above) in one fused pass each; g(t_above) is kept aside
  // first, since the inverse's next forward pass overwrites its output.
  if (output_inverse_) {
    // The output block learns from its own error; nothing carries the loss's gradient below it.
    backprop_block(network, output, network.gradient(network.size()), /*input_gradient=*/false, backend);
    output_probabilities(backend, network.output(), batch.labels, probabilities_);
    auxiliary_units(backend, penultimate, aux_);
    keep_copy(backend, output_inverse_->forward(backend, one_hot_, aux_), top.shape(), inverse_of_target_);
    backend.linear_combination(1.0f, penultimate, 1.0f, inverse_of_target_, -1.0f,
                               output_inverse_->forward(backend, probabilities_, aux_).reshaped(top.shape()), top);
  } else {
    // t_{L-1} = h_{L-1} - alpha dL/dh_{L-1}: one gradient step through the output block. L is the global
    // batch's mean loss: a data-parallel rank's gradient of its share's mean, times its share.
    backprop_block(network, output, network.gradient(network.size()), /*input_gradient=*/true, backend);
    backend.linear_combination(1.0f, penultimate, -s_.target_step * static_cast<float>(network.share_of_batch()),
                               network.gradient(output.first), 0.0f, penultimate, top);
  }
  for (size_t l = blocks - 2; l >= 1; --l) {
    const Tensor& below = network.activations(blocks_[l].first);
    Tensor& target = targets_[l - 1];
    target.resize(below.shape(), backend.device());
    Network& g = *inverses_[l];
    if (s_.variant == TargetVariant::tp) {
      backend.copy(g.forward(backend, targets_[l]).reshaped(below.shape()), target);
      continue;
    }
    keep_copy(backend, g.forward(backend, targets_[l]), below.shape(), inverse_of_target_);
    backend.linear_combination(1.0f, below, 1.0f, inverse_of_target_, -1.0f,
                               g.forward(backend, network.activations(blocks_[l].last)).reshaped(below.shape()),
                               target);
  }
}

void TargetPropagation::update_forward_weights(Network& network, Backend& backend) {
  for (size_t l = 0; l + 1 < blocks_.size(); ++l) {
    const Tensor& h = network.activations(blocks_[l].last);
    local_grad_.resize(h.shape(), backend.device());
    const float c = 2.0f / static_cast<float>(h.dim(0));  // d/dh of the batch mean of ||h - t||^2
    backend.linear_combination(c, h, -c, targets_[l], 0.0f, h, local_grad_);
    backprop_block(network, blocks_[l], local_grad_, /*input_gradient=*/false, backend);
  }
}

namespace {

// A per-layer option: numbers separated by commas ("0.1,0.05,0.01"), each at least `least`.
std::vector<double> number_list(Options& options, const std::string& key, double least) {
  const std::string text = options.get_string(key, "");
  std::vector<double> values;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || item.find_first_not_of(" ", used) != std::string::npos || !(value >= least))
      fail("{}: '{}' must be numbers >= {} separated by commas, got \"{}\"", options.where(), key, least, item);
    values.push_back(value);
    start = end + 1;
  }
  return values;
}

RuleInfo target_rule_info(TargetVariant variant, const std::string& description) {
  const std::string name = to_string(variant);
  return {name,
          description +
              " Options: sigma (inverse-training noise, 0.1), inverse_lr (1e-3), inverse_optimizer (adam | sgd), "
              "inverse_steps (inverse updates per step, 1), layer_sigmas and layer_inverse_lrs (one value per inverse, "
              "bottom up, separated by commas)" +
              (variant == TargetVariant::ao_sdtp ? ", aux_units (512)"
               : variant == TargetVariant::sdtp  ? ""
                                                 : ", target_step (alpha of the penultimate target, 0.1)") +
              ". Dense and locally connected nets (Bartunov et al. 2018).",
          [variant](Options& options) -> std::unique_ptr<Rule> {
            TargetSettings s;
            s.variant = variant;
            s.sigma = static_cast<float>(options.get_number("sigma", s.sigma));
            s.inverse_lr = options.get_number("inverse_lr", s.inverse_lr);
            s.inverse_optimizer = options.get_string("inverse_optimizer", s.inverse_optimizer);
            s.inverse_steps = options.get_int("inverse_steps", s.inverse_steps);
            if (variant == TargetVariant::ao_sdtp) s.aux_units = options.get_int("aux_units", s.aux_units);
            if (variant != TargetVariant::sdtp && variant != TargetVariant::ao_sdtp)
              s.target_step = static_cast<float>(options.get_number("target_step", s.target_step));
            if (!(s.sigma >= 0)) fail("{}: 'sigma' must be >= 0, got {}", options.where(), s.sigma);
            if (!(s.inverse_lr > 0)) fail("{}: 'inverse_lr' must be > 0, got {}", options.where(), s.inverse_lr);
            if (s.inverse_steps < 1)
              fail("{}: 'inverse_steps' must be at least 1, got {}", options.where(), s.inverse_steps);
            if (s.aux_units < 1) fail("{}: 'aux_units' must be at least 1, got {}", options.where(), s.aux_units);
            if (s.inverse_optimizer != "adam" && s.inverse_optimizer != "sgd")
              fail("{}: 'inverse_optimizer' must be \"adam\" or \"sgd\", got \"{}\"", options.where(),
                   s.inverse_optimizer);
            s.layer_sigmas = number_list(options, "layer_sigmas", 0.0);
            s.layer_inverse_lrs = number_list(options, "layer_inverse_lrs", 1e-300);
            return std::make_unique<TargetPropagation>(s);
          }};
}

}  // namespace

RuleInfo tp_rule_info() {
  return target_rule_info(TargetVariant::tp, "Target propagation (Lee et al. 2015): t_{l-1} = g_l(t_l).");
}
RuleInfo dtp_rule_info() {
  return target_rule_info(TargetVariant::dtp,
                          "Difference target propagation: t_{l-1} = h_{l-1} + g_l(t_l) - g_l(h_l), inverses "
                          "trained before the forward update.");
}
RuleInfo dtp_parallel_rule_info() {
  return target_rule_info(TargetVariant::dtp_parallel,
                          "DTP with inverse and forward updates from one pass, applied together.");
}
RuleInfo sdtp_rule_info() {
  return target_rule_info(TargetVariant::sdtp,
                          "Simplified DTP: the penultimate target from the label through the output's "
                          "inverse; no gradient anywhere.");
}
RuleInfo ao_sdtp_rule_info() {
  return target_rule_info(TargetVariant::ao_sdtp, "SDTP with an auxiliary output of fixed random units.");
}

}  // namespace bioprop
