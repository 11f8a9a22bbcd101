// CPU training throughput of the BrainProp nets: one bp step (forward, credit, SGD update) per
// iteration on Fashion-MNIST-shaped data (1x28x28, 10 classes). Reports images/s and the implied
// time of one 60k-image epoch. Synthetic inputs: the arithmetic does not depend on pixel values.
#include <benchmark/benchmark.h>

#include "bioprop/step_timing.hpp"

namespace {

using namespace bioprop;

void bp_training_step(benchmark::State& state, const std::string& net_name) {
  const int batch_size = static_cast<int>(state.range(0));
  auto backend = make_cpu_backend();
  TrainingStep step("bp", net_name, {1, 28, 28}, 10, batch_size, *backend);  // the default run's settings
  for (auto _ : state) step.run();
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
