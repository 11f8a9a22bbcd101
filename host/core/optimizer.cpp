#include "bioprop/optimizer.hpp"

#include <fmt/format.h>

#include "bioprop/error.hpp"

namespace bioprop {
namespace {

// Optimiser state tensors, one per parameter, created on the first step.
std::vector<Tensor>& state_for(std::vector<Tensor>& state, const std::vector<Parameter*>& parameters,
                               Backend& backend) {
  if (state.size() != parameters.size()) {
    state.clear();
    for (const Parameter* p : parameters) state.emplace_back(p->value.shape(), backend.device());
  }
  return state;
}

// The state tensors as named parameters (no grad, no decay), for checkpoints.
void name_state(std::vector<Parameter>& out, const std::vector<Tensor>& state,
                const std::vector<Parameter*>& parameters, const char* suffix) {
  for (size_t i = 0; i < parameters.size(); ++i)
    out.push_back({parameters[i]->name + suffix, state[i], Tensor(), false});
}

// Weight decay acts on the parameters that ask for it (weights and feedback weights, as Keras's
// kernel_regularizer), not on biases or batch norm's scale and shift.
template <typename Settings>
Settings for_parameter(Settings s, const Parameter& p) {
  if (!p.decays) s.weight_decay = 0.0f;
  return s;
}

class Sgd final : public Optimizer {
 public:
  explicit Sgd(SgdSettings s) : s_(s) {}
  std::string describe() const override {
    return fmt::format("sgd lr={} momentum={} weight_decay={}", s_.learning_rate, s_.momentum, s_.weight_decay);
  }
  void step(Backend& backend, const std::vector<Parameter*>& parameters) override {
    auto& velocity = state_for(velocity_, parameters, backend);
    for (size_t i = 0; i < parameters.size(); ++i)
      backend.sgd_step(parameters[i]->value, parameters[i]->grad, velocity[i], for_parameter(s_, *parameters[i]));
  }
  void set_learning_rate(float lr) override { s_.learning_rate = lr; }
  float learning_rate() const override { return s_.learning_rate; }
  std::vector<Parameter> state(Backend& backend, const std::vector<Parameter*>& parameters) override {
    std::vector<Parameter> named;
    name_state(named, state_for(velocity_, parameters, backend), parameters, ".sgd_velocity");
    return named;
  }

 private:
  SgdSettings s_;
  std::vector<Tensor> velocity_;
};

class Adam final : public Optimizer {
 public:
  explicit Adam(AdamSettings s) : s_(s) {}
  std::string describe() const override {
    return fmt::format("adam lr={} beta1={} beta2={} weight_decay={}", s_.learning_rate, s_.beta1, s_.beta2,
                       s_.weight_decay);
  }
  void step(Backend& backend, const std::vector<Parameter*>& parameters) override {
    auto& m = state_for(first_, parameters, backend);
    auto& v = state_for(second_, parameters, backend);
    ++steps_;
    for (size_t i = 0; i < parameters.size(); ++i)
      backend.adam_step(parameters[i]->value, parameters[i]->grad, m[i], v[i], for_parameter(s_, *parameters[i]),
                        steps_);
  }
  void set_learning_rate(float lr) override { s_.learning_rate = lr; }
  float learning_rate() const override { return s_.learning_rate; }
  std::vector<Parameter> state(Backend& backend, const std::vector<Parameter*>& parameters) override {
    std::vector<Parameter> named;
    name_state(named, state_for(first_, parameters, backend), parameters, ".adam_first_moment");
    name_state(named, state_for(second_, parameters, backend), parameters, ".adam_second_moment");
    return named;
  }
  int steps() const override { return steps_; }
  void set_steps(int steps) override { steps_ = steps; }

 private:
  AdamSettings s_;
  std::vector<Tensor> first_, second_;
  int steps_ = 0;
};

float positive(Options& options, const std::string& key, double fallback) {
  const double value = options.get_number(key, fallback);
  if (!(value >= 0.0)) fail("{}: '{}' must be >= 0, got {}", options.where(), key, value);
  return static_cast<float>(value);
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, Options& options) {
  std::unique_ptr<Optimizer> optimizer;
  if (kind == "sgd") {
    SgdSettings s;
    s.learning_rate = positive(options, "learning_rate", 0.01);
    s.momentum = positive(options, "momentum", 0.9);
    s.weight_decay = positive(options, "weight_decay", 0.0);
    optimizer = std::make_unique<Sgd>(s);
  } else if (kind == "adam") {
    AdamSettings s;
    s.learning_rate = positive(options, "learning_rate", 1e-3);
    s.beta1 = positive(options, "beta1", 0.9);
    s.beta2 = positive(options, "beta2", 0.999);
    s.epsilon = positive(options, "epsilon", 1e-8);
    s.weight_decay = positive(options, "weight_decay", 0.0);
    optimizer = std::make_unique<Adam>(s);
  } else {
    fail("{}: unknown optimizer '{}' (sgd or adam)", options.where(), kind);
  }
  options.check_all_used();
  return optimizer;
}

}  // namespace bioprop
