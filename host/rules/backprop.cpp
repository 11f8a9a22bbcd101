// bp: the baseline. delta_l = (W_{l+1}^T delta_{l+1}) * f'(a_l), dW_l = delta_l h_{l-1}^T
// (Rumelhart, Hinton, Williams 1986), with softmax cross-entropy or mean squared error at the output.
#include "builtin_rules.hpp"
#include "rule_helpers.hpp"

namespace bioprop {
namespace {

class Backprop final : public Rule {
 public:
  explicit Backprop(Loss loss) : loss_(loss) {}
  std::string name() const override { return "bp"; }
  void attach(Network& network, Backend&, uint64_t) override { network.set_buffer_reuse(true); }
  bool announces_updates() const override { return true; }  // through Network::backward
  StepResult step(Network& network, const Batch& batch, Backend& backend) override {
    const StepResult result = forward_and_loss(network, batch, backend, loss_);
    network.backward(backend, Pathway::forward_weights);
    return result;
  }

 private:
  Loss loss_;
};

}  // namespace

RuleInfo backprop_rule_info() {
  return {"bp", "backpropagation (baseline); option loss = cross_entropy | mse | regression",
          [](Options& options) -> std::unique_ptr<Rule> {
            return std::make_unique<Backprop>(parse_loss(options.get_string("loss", "cross_entropy"), options.where()));
          }};
}

}  // namespace bioprop
