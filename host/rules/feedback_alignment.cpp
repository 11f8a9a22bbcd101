// The feedback-alignment family: errors travel down through other matrices than W^T.
//   fa             fixed random B per layer (Lillicrap et al. 2016)
//   sign_symmetry  B = sign(W), optionally scaled by the RMS of W, refreshed every batch (Liao et al. 2016)
//   fa_ex          FA_Ex-p% (Konishi, Igarashi, Miura 2023): each feedback unit into one hidden layer is
//                  excitatory or inhibitory (sign s_i fixed per hidden unit, p% excitatory). With one
//                  output (their setting) B = s and the update is dW_ij = -lr x_j f'(I_i) e (pre x post x
//                  dopamine). With K > 1 outputs B_ki = s_i |N(0, rms(W)^2)|_ki: their sign rule with random
//                  magnitudes per output (identical rows would make the hidden error s_i sum_k e_k, which
//                  softmax cross-entropy keeps at 0: every layer below frozen). Lower layers: fixed random B
//   elm            extreme learning machine: the hidden layers stay random, only the readout learns
// DFA, with its one fused projection, lives in direct_feedback_alignment.cpp.
#include <cmath>

#include "bioprop/error.hpp"
#include "bioprop/rng.hpp"
#include "builtin_rules.hpp"
#include "rule_helpers.hpp"

namespace bioprop {
namespace {

enum class Kind { fa, sign_symmetry, fa_ex, elm };

struct Settings {
  Kind kind = Kind::fa;
  Loss loss = Loss::cross_entropy;
  FeedbackInit feedback;
  bool scale_by_rms = true;           // sign_symmetry
  int excitatory_layer = -1;          // fa_ex: which hidden weighted layer (0 = first); -1 = the last hidden
  double excitatory_percent = 100.0;  // fa_ex
  bool dale = false;                  // fa_ex: the unit's type also fixes the sign of its output weights
};

class FeedbackAlignment final : public Rule {
 public:
  FeedbackAlignment(std::string name, Settings s) : name_(std::move(name)), s_(s) {}
  std::string name() const override { return name_; }

  void attach(Network& network, Backend& backend, uint64_t seed) override {
    network.set_buffer_reuse(true);  // one layer's gradient at a time, top down
    weighted_ = network.weighted_layers();
    for (int i : weighted_) {
      auto& layer = weighted(network, i);
      layer.set_feedback_weights(
          random_feedback_like(layer.weights().value, s_.feedback, backend, seed, static_cast<uint64_t>(i) << 40));
    }
    if (s_.kind == Kind::fa_ex) install_excitatory_feedback(network, backend, seed);
    fixed_feedback_.clear();
    if (s_.kind == Kind::fa || s_.kind == Kind::fa_ex)
      for (int i : weighted_) fixed_feedback_.push_back(&weighted(network, i).feedback());
  }

  // The fixed B of every layer: saved with checkpoints so a run's feedback pathway can be inspected.
  std::vector<Parameter*> rule_parameters() override { return fixed_feedback_; }

  StepResult step(Network& network, const Batch& batch, Backend& backend) override {
    if (s_.kind == Kind::sign_symmetry)
      for (int i : weighted_) {
        auto& layer = weighted(network, i);
        const Tensor& w = layer.weights().value;
        const float scale =
            s_.scale_by_rms ? static_cast<float>(std::sqrt(backend.sum_of_squares(w) / static_cast<double>(w.numel())))
                            : 1.0f;
        backend.sign(w, scale, layer.feedback_weights());
      }
    const StepResult result = forward_and_loss(network, batch, backend, s_.loss);
    if (s_.kind == Kind::elm) {
      const int readout = weighted_.back();
      network.layer(readout).weight_grad(backend, network.activations(readout), network.gradient(readout + 1), 0.0f);
    } else {
      network.backward(backend, Pathway::feedback_weights);
    }
    return result;
  }

  // Network::backward announces each layer (ELM's readout is summed after the step).
  bool announces_updates() const override { return true; }

  std::vector<Parameter*> trainable(Network& network) override {
    if (s_.kind != Kind::elm) return network.parameters();
    return network.layer(network.weighted_layers().back()).parameters();
  }

 private:
  static WeightedLayer& weighted(Network& network, int i) { return dynamic_cast<WeightedLayer&>(network.layer(i)); }

  // The feedback into the chosen hidden layer's units is carried by the B of the next weighted layer:
  // every entry reaching unit i (dense input i, or input channel i of a window layer) has the sign
  // s_i = +1 (excitatory) or -1 (inhibitory), units excitatory with probability p / 100, drawn by seed;
  // its magnitude is 1 when the next layer has one output unit, else |N(0, rms(W)^2)| per entry.
  void install_excitatory_feedback(Network& network, Backend& backend, uint64_t seed) {
    const int hidden = static_cast<int>(weighted_.size()) - 1;
    if (hidden < 1) fail("rule 'fa_ex' needs a net with a hidden layer");
    const int chosen = s_.excitatory_layer < 0 ? hidden - 1 : s_.excitatory_layer;
    if (chosen >= hidden) fail("rule 'fa_ex': 'layer' {} is not a hidden weighted layer (0..{})", chosen, hidden - 1);
    auto& next = weighted(network, weighted_[static_cast<size_t>(chosen) + 1]);
    Tensor feedback(next.weights().value.shape());
    const Shape& shape = feedback.shape();
    // Dense W is (out, in): unit = column. Window layers' W end in (in_channels, kh, kw): unit = channel.
    const bool dense = shape.rank() == 2;
    const size_t units = static_cast<size_t>(dense ? shape[1] : shape[shape.rank() - 3]);
    const size_t inner = dense ? 1 : static_cast<size_t>(shape[shape.rank() - 2] * shape[shape.rank() - 1]);
    const bool one_output = feedback.numel() == units * inner;
    // With several outputs the magnitudes have the spread of the layer's W, as FA's random B does.
    const Tensor& w = next.weights().value;
    const float spread = static_cast<float>(std::sqrt(backend.sum_of_squares(w) / static_cast<double>(w.numel())));
    for (size_t i = 0; i < feedback.numel(); ++i) {
      const size_t unit = i / inner % units;
      const bool excitatory = philox_uniform(seed ^ 0xE1Cu, 0, unit) * 100.0 < s_.excitatory_percent;
      const float magnitude = one_output ? 1.0f : spread * std::abs(philox_normal(seed ^ 0xFA5Eu, 0, i));
      feedback.at(i) = excitatory ? magnitude : -magnitude;
    }
    next.set_feedback_weights(backend.to_device(feedback));
    dale_layer_ = &next;
    if (s_.dale) after_update(network, backend);  // start from weights that obey the constraint
  }

 public:
  // Dale's law: an excitatory unit's outgoing weights stay >= 0, an inhibitory unit's <= 0. B holds
  // exactly those signs, in W's shape.
  void after_update(Network& /*network*/, Backend& backend) override {
    if (s_.kind == Kind::fa_ex && s_.dale && dale_layer_)
      backend.clamp_to_signs(dale_layer_->weights().value, dale_layer_->feedback_weights());
  }

 private:
  std::string name_;
  Settings s_;
  std::vector<int> weighted_;
  std::vector<Parameter*> fixed_feedback_;
  WeightedLayer* dale_layer_ = nullptr;
};

RuleInfo make_info(const std::string& name, Kind kind, const std::string& description) {
  return {name, description, [name, kind](Options& options) -> std::unique_ptr<Rule> {
            Settings s;
            s.kind = kind;
            s.loss = parse_loss(options.get_string("loss", "cross_entropy"), options.where());
            if (kind == Kind::fa || kind == Kind::fa_ex) s.feedback = read_feedback_init(options);
            if (kind == Kind::sign_symmetry) {
              const std::string scaling = options.get_string("scaling", "rms");
              if (scaling != "rms" && scaling != "none")
                fail("{}: 'scaling' must be \"rms\" or \"none\", got \"{}\"", options.where(), scaling);
              s.scale_by_rms = scaling == "rms";
            }
            if (kind == Kind::fa_ex) {
              s.excitatory_layer = options.get_int("layer", -1);
              s.excitatory_percent = options.get_number("excitatory_percent", 100.0);
              s.dale = options.get_bool("dale", false);
              if (s.excitatory_percent < 0 || s.excitatory_percent > 100)
                fail("{}: 'excitatory_percent' must be in [0, 100], got {}", options.where(), s.excitatory_percent);
            }
            return std::make_unique<FeedbackAlignment>(name, s);
          }};
}

}  // namespace

RuleInfo fa_rule_info() {
  return make_info("fa", Kind::fa,
                   "feedback alignment (Lillicrap et al. 2016): fixed random B; options loss, feedback_init = "
                   "normal | uniform, feedback_scale [RMS of W]");
}
RuleInfo sign_symmetry_rule_info() {
  return make_info("sign_symmetry", Kind::sign_symmetry,
                   "sign-symmetric feedback: B = sign(W), scaling = rms | none, refreshed every batch");
}
RuleInfo fa_ex_rule_info() {
  return make_info("fa_ex", Kind::fa_ex,
                   "FA_Ex-p% (Konishi et al. 2023): excitatory (+) / inhibitory (-) feedback into one hidden layer "
                   "(+-1 with one output, +-|N(0, rms(W)^2)| per output with more); options layer [last "
                   "hidden], excitatory_percent [100], dale [false: sign of output weights fixed by unit type], "
                   "feedback_init, feedback_scale (other layers)");
}
RuleInfo elm_rule_info() {
  return make_info("elm", Kind::elm, "extreme learning machine: random fixed hidden layers, only the readout learns");
}

}  // namespace bioprop
