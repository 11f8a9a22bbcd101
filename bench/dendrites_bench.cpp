// Segregated-dendrite training (Guerguiev et al. 2017, issue 15): simulated training examples per second, each
// a 50 ms forward phase, a 50 ms target phase (fixed lengths: no Wald extra) and the weight updates, on the
// paper's nets with MNIST-shaped inputs, at batch 1 (the authors' online learning) and in parallel batches.
// bench/peers/dendrites_numpy.py simulates the same dynamics in NumPy; bench/run_dendrites.sh runs both.
// The device comes from BIOPROP_BENCH_DEVICE (cpu by default; cuda on a GPU machine).
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "bioprop/config.hpp"
#include "bioprop/device.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rule.hpp"

namespace {

using namespace bioprop;

void training_examples(benchmark::State& state, const std::string& net_name) {
  const char* device = std::getenv("BIOPROP_BENCH_DEVICE");
  auto backend = make_backend(choose_device(device ? device : "cpu"));
  const int batch_size = static_cast<int>(state.range(0));
  NetOverrides overrides;
  overrides.bias = true;
  auto network = build_network(load_net_source(net_name), {1, 28, 28}, 10, 1, *backend, overrides);
  Options options;
  options.set("random_phase_lengths", false);
  auto rule = make_rule("dendrites", options);
  rule->attach(*network, *backend, 1);
  Options sgd_options;
  sgd_options.set("learning_rate", 0.21);
  auto sgd = make_optimizer("sgd", sgd_options);
  const auto parameters = rule->trainable(*network);
  Tensor inputs({batch_size, 1, 28, 28}), labels({batch_size});
  make_cpu_backend()->random_uniform(inputs, 0.0f, 1.0f, 3, 0);  // pixel intensities: the input rates
  for (int i = 0; i < batch_size; ++i) labels.at(static_cast<size_t>(i)) = static_cast<float>(i % 10);
  const Batch batch{backend->to_device(inputs), backend->to_device(labels)};
  for (auto _ : state) {
    rule->step(*network, batch, *backend);
    sgd->step(*backend, parameters);
    backend->synchronize();
  }
  state.counters["examples_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * batch_size, benchmark::Counter::kIsRate);
  state.SetLabel(backend->name());
}

BENCHMARK_CAPTURE(training_examples, dendrites, std::string("dendrites"))
    ->Arg(1)
    ->Arg(16)
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(training_examples, dendrites_deep, std::string("dendrites-deep"))
    ->Arg(1)
    ->Arg(16)
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
