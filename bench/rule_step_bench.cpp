// One training step (forward, credit assignment, SGD update) of bp and BrainProp on the BrainProp
// nets with CIFAR-10-shaped data (3x32x32, 10 classes): images/s and the implied time of a
// 50k-image epoch, bp beside BrainProp on the same net. The device comes from BIOPROP_BENCH_DEVICE
// (cpu by default; cuda or cuda:N on a GPU machine). Synthetic inputs: the arithmetic does not
// depend on pixel values. The reference trains loccon with batch 32 and the others with 128.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "bioprop/config.hpp"
#include "bioprop/device.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rule.hpp"

namespace {

using namespace bioprop;

std::unique_ptr<Backend> bench_backend() {
  const char* device = std::getenv("BIOPROP_BENCH_DEVICE");
  return make_backend(choose_device(device ? device : "cpu"));
}

void training_step(benchmark::State& state, const std::string& rule_name, const std::string& net_name) {
  const int batch_size = net_name == "loccon" ? 32 : 128;
  auto backend = bench_backend();
  // The default run's settings: init N(0, 0.005) without biases (bench/peers/train_step_pytorch.py too).
  auto net = build_network(load_net_source(net_name), {3, 32, 32}, 10, 1, *backend, TrainConfig{}.net_overrides);
  Options rule_options, optimizer_options;
  optimizer_options.set("learning_rate", 0.1);  // the default run's plain SGD
  optimizer_options.set("momentum", 0.0);
  auto rule = make_rule(rule_name, rule_options);
  auto optimizer = make_optimizer("sgd", optimizer_options);
  rule->attach(*net, *backend, 1);
  net->set_training(true);  // batch statistics and dropout, as in training
  Tensor inputs({batch_size, 3, 32, 32}), labels({batch_size});
  backend->random_uniform(inputs, 0.0f, 1.0f, 1, 0);
  for (int i = 0; i < batch_size; ++i) labels.at(static_cast<size_t>(i)) = static_cast<float>(i % 10);
  const Batch batch{backend->to_device(inputs), backend->to_device(labels)};
  const auto parameters = rule->trainable(*net);
  for (auto _ : state) {
    rule->step(*net, batch, *backend);
    optimizer->step(*backend, parameters);
    backend->synchronize();
  }
  const double images = static_cast<double>(state.iterations()) * batch_size;
  state.counters["images_per_second"] = benchmark::Counter(images, benchmark::Counter::kIsRate);
  state.counters["epoch_seconds_50k"] =
      benchmark::Counter(images / 50000.0, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel(backend->name());
}

#define RULE_STEP(rule, net)                                                            \
  BENCHMARK_CAPTURE(training_step, rule##_##net, std::string(#rule), std::string(#net)) \
      ->Unit(benchmark::kMillisecond)                                                   \
      ->UseRealTime()
RULE_STEP(bp, conv);
RULE_STEP(brainprop, conv);
RULE_STEP(bp, loccon);
RULE_STEP(brainprop, loccon);
RULE_STEP(bp, deep);
RULE_STEP(brainprop, deep);

}  // namespace

BENCHMARK_MAIN();
