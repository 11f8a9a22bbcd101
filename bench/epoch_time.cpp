// CPU training throughput of the BrainProp nets: one bp step (forward, credit, SGD update) per
// iteration on Fashion-MNIST-shaped data (1x28x28, 10 classes). Reports images/s and the implied
// time of one 60k-image epoch. Synthetic inputs: the arithmetic does not depend on pixel values.
#include <benchmark/benchmark.h>

#include "bioprop/config.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rule.hpp"

namespace {

using namespace bioprop;

void bp_training_step(benchmark::State& state, const std::string& net_name) {
  const int batch_size = static_cast<int>(state.range(0));
  auto backend = make_cpu_backend();
  // The default run's settings (init N(0, 0.005) without biases, plain SGD), in training mode.
  auto net = build_network(load_net_source(net_name), {1, 28, 28}, 10, 1, *backend, TrainConfig{}.net_overrides);
  net->set_training(true);
  Options rule_options, optimizer_options;
  optimizer_options.set("learning_rate", 0.1);
  optimizer_options.set("momentum", 0.0);
  auto rule = make_rule("bp", rule_options);
  auto optimizer = make_optimizer("sgd", optimizer_options);
  Batch batch{Tensor({batch_size, 1, 28, 28}), Tensor({batch_size})};
  backend->random_uniform(batch.inputs, 0.0f, 1.0f, 1, 0);
  for (int i = 0; i < batch_size; ++i) batch.labels.at(static_cast<size_t>(i)) = static_cast<float>(i % 10);
  const auto parameters = net->parameters();
  for (auto _ : state) {
    rule->step(*net, batch, *backend);
    optimizer->step(*backend, parameters);
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
  state.counters["images_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch_size), benchmark::Counter::kIsRate);
  state.counters["epoch_seconds_60k"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch_size) / 60000.0,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK_CAPTURE(bp_training_step, dense, std::string("dense"))
    ->Arg(64)
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(bp_training_step, conv, std::string("conv"))
    ->Arg(64)
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
