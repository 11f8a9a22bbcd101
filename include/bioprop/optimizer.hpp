#pragma once
// Optimisers apply the updates that rules leave in the parameters' grad: SGD with momentum and weight
// decay, and Adam. Their state (velocity, moments) lives on the backend's device.
#include <memory>
#include <string>
#include <vector>

#include "bioprop/backend.hpp"
#include "bioprop/layers.hpp"
#include "bioprop/options.hpp"

namespace bioprop {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string describe() const = 0;
  virtual void step(Backend& backend, const std::vector<Parameter*>& parameters) = 0;
  virtual void set_learning_rate(float lr) = 0;
  virtual float learning_rate() const = 0;
  // The optimiser's state for `parameters` (SGD's velocity, Adam's two moments), created now if need be,
  // as tensors named after their parameter that share the optimiser's storage, and its step count:
  // checkpoints hold them, so a resumed run continues exactly where it stopped.
  virtual std::vector<Parameter> state(Backend& backend, const std::vector<Parameter*>& parameters) = 0;
  virtual int steps() const { return 0; }
  virtual void set_steps(int /*steps*/) {}
};

// kind: "sgd" (options learning_rate, momentum, weight_decay) or "adam" (learning_rate, beta1, beta2,
// epsilon, weight_decay).
std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, Options& options);

}  // namespace bioprop
