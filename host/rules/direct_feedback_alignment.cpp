// dfa (Nokland 2016): the output error e = dL/d(output) goes straight to every hidden layer through a
// fixed random matrix. As in TinyDFA (Launay et al. 2020) all hidden layers share one projection:
// P = e B with B (classes x sum of the hidden widths), one product per batch (one launch on the GPU,
// see Backend::project_feedback), and each layer takes its columns of P as dL/dh. The layers between a
// weighted layer and the next (activation, pooling, dropout, batch norm, flatten) then turn dL/dh into
// the weighted layer's delta: delta_l = (B_l e) * f'(a_l); batch norm's own scale and shift take their
// gradient from that same projected signal.
#include <cmath>

#include "bioprop/error.hpp"
#include "builtin_rules.hpp"
#include "rule_helpers.hpp"

namespace bioprop {
namespace {

class DirectFeedbackAlignment final : public Rule {
 public:
  DirectFeedbackAlignment(Loss loss, FeedbackInit init) : loss_(loss), init_(init) {}
  std::string name() const override { return "dfa"; }

  void attach(Network& network, Backend& backend, uint64_t seed) override {
    weighted_ = network.weighted_layers();
    int width = 0;
    slices_.clear();
    // Hidden weighted layer j receives its slice at the input of weighted layer j + 1.
    for (size_t j = 0; j + 1 < weighted_.size(); ++j) {
      const int target = weighted_[j + 1];
      const int features = static_cast<int>(network.activations(target).shape().sample_size());
      slices_.push_back({weighted_[j], target, width, features});
      width += features;
    }
    const int classes = network.outputs();
    // B's spread follows the readout weights it stands in for (unless feedback_scale is given).
    const Tensor& readout = dynamic_cast<WeightedLayer&>(network.layer(weighted_.back())).weights().value;
    const double rms = std::sqrt(backend.sum_of_squares(readout) / static_cast<double>(readout.numel()));
    Tensor matrix({classes, std::max(width, 1)}, backend.device());
    backend.random_normal(matrix, 0.0f, static_cast<float>(init_.scale > 0 ? init_.scale : rms), seed ^ 0xD1FEu, 0);
    projection_ = {"dfa.feedback", std::move(matrix), Tensor()};
  }

  // B (classes x sum of the hidden widths), fixed: saved with checkpoints, open to inspection.
  std::vector<Parameter*> rule_parameters() override { return {&projection_}; }
  // The readout's update, then each slice's layer as its walk down ends (the layers between, such as batch
  // norm, are summed after the step).
  bool announces_updates() const override { return true; }

  StepResult step(Network& network, const Batch& batch, Backend& backend) override {
    const StepResult result = forward_and_loss(network, batch, backend, loss_);
    const Tensor& error = network.gradient(network.size());
    const int readout = weighted_.back();
    network.layer(readout).weight_grad(backend, network.activations(readout), network.gradient(readout + 1), 0.0f);
    network.announce_update(readout);
    if (slices_.empty()) return result;
    // Where a slice lands right after an activation, the projection kernel applies its derivative too
    // and the walk down to the weighted layer starts below that activation.
    targets_.clear();
    for (const Slice& slice : slices_) {
      const int below = slice.target - 1;
      const auto f = below > slice.layer ? network.layer(below).activation_function() : std::nullopt;
      ProjectionSlice target;
      target.first_column = slice.first_column;
      target.out = &network.gradient(f ? below : slice.target);
      if (f) {
        target.derivative = true;
        target.f = *f;
        target.pre = &network.activations(below);
        target.post = &network.activations(slice.target);
      }
      targets_.push_back(target);
    }
    backend.project_feedback(error, projection_.value, targets_);  // one launch for all layers
    for (size_t s = 0; s < slices_.size(); ++s) {  // the projection applied f' already when it could fuse it
      backward_down_to_weights(network, backend, slices_[s].target - (targets_[s].derivative ? 2 : 1),
                               slices_[s].layer);
      network.announce_update(slices_[s].layer);
    }
    return result;
  }

 private:
  struct Slice {
    int layer, target, first_column, width;
  };
  Loss loss_;
  FeedbackInit init_;
  std::vector<int> weighted_;
  std::vector<Slice> slices_;
  Parameter projection_;
  std::vector<ProjectionSlice> targets_;
};

}  // namespace

RuleInfo dfa_rule_info() {
  return {"dfa",
          "direct feedback alignment (Nokland 2016), one fused projection for all layers; options loss, "
          "feedback_scale [RMS of the readout]",
          [](Options& options) -> std::unique_ptr<Rule> {
            const Loss loss = parse_loss(options.get_string("loss", "cross_entropy"), options.where());
            FeedbackInit init;
            init.scale = options.get_number("feedback_scale", 0.0);
            return std::make_unique<DirectFeedbackAlignment>(loss, init);
          }};
}

}  // namespace bioprop
