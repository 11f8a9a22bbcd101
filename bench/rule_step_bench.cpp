// One training step (forward, credit assignment, SGD update) of bp and BrainProp on the BrainProp
// nets with CIFAR-10-shaped data (3x32x32, 10 classes): images/s and the implied time of a
// 50k-image epoch, bp beside BrainProp on the same net. The device comes from BIOPROP_BENCH_DEVICE
// (cpu by default; cuda or cuda:N on a GPU machine). Synthetic inputs: the arithmetic does not
// depend on pixel values. The reference trains loccon with batch 32 and the others with 128.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "bioprop/device.hpp"
#include "bioprop/step_timing.hpp"

namespace {

using namespace bioprop;

std::unique_ptr<Backend> bench_backend() {
  const char* device = std::getenv("BIOPROP_BENCH_DEVICE");
  return make_backend(choose_device(device ? device : "cpu"));
}

void training_step(benchmark::State& state, const std::string& rule_name, const std::string& net_name) {
  auto backend = bench_backend();
  TrainingStep step(rule_name, net_name, {3, 32, 32}, 10, reference_batch_size(net_name), *backend);
  const int batch_size = step.batch_size();
  for (auto _ : state) step.run();
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
