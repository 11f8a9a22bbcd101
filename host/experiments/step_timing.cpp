#include "bioprop/step_timing.hpp"

#include <chrono>
#include <utility>

#include "bioprop/config.hpp"

namespace bioprop {

TrainingStep::TrainingStep(const std::string& rule, const std::string& net, const Shape& sample, int classes,
                           int batch_size, Backend& backend)
    : backend_(backend) {
  network_ = build_network(load_net_source(net), sample, classes, 1, backend, TrainConfig{}.net_overrides);
  network_->check_fits_in_memory(batch_size, backend);
  network_->set_training(true);
  Options rule_options, optimizer_options;
  optimizer_options.set("learning_rate", 0.1);
  optimizer_options.set("momentum", 0.0);
  rule_ = make_rule(rule, rule_options);
  optimizer_ = make_optimizer("sgd", optimizer_options);
  rule_->attach(*network_, backend, 1);
  // Drawn where the backend computes: a backend's random fill writes its own device's memory.
  Tensor inputs(sample.batched(batch_size), backend.device()), labels({batch_size});
  backend.random_uniform(inputs, 0.0f, 1.0f, 1, 0);  // the arithmetic does not depend on the pixels
  for (int i = 0; i < batch_size; ++i) labels.at(static_cast<size_t>(i)) = static_cast<float>(i % classes);
  batch_ = {std::move(inputs), backend.to_device(labels)};
  parameters_ = rule_->trainable(*network_);
}

void TrainingStep::run() {
  rule_->step(*network_, batch_, backend_);
  optimizer_->step(backend_, parameters_);
  rule_->after_update(*network_, backend_);
  backend_.synchronize();
}

void TrainingStep::run_forward() {
  network_->forward(backend_, batch_.inputs);
  backend_.synchronize();
}

int reference_batch_size(const std::string& net) { return net == "loccon" ? 32 : 128; }

namespace {
template <typename Run>
double seconds_per_call(const Run& run, int warmup, int steps) {
  for (int i = 0; i < warmup; ++i) run();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / std::max(steps, 1);
}
}  // namespace

StepTiming time_training_steps(TrainingStep& step, int warmup, int steps) {
  StepTiming timing;
  timing.batch_size = step.batch_size();
  timing.seconds_per_step = seconds_per_call([&] { step.run(); }, warmup, steps);
  timing.seconds_per_forward = seconds_per_call([&] { step.run_forward(); }, warmup, steps);
  return timing;
}

}  // namespace bioprop
