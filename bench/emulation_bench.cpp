// Speed of the CUDA kernel emulation (include/bioprop/cuda_emulation.hpp): emulated CUDA threads per
// second on a barrier-free kernel (ReLU over 173k values, the size of a conv layer's activations at
// batch 8) and on a tiled one with barriers (the locally connected forward pass). It uses only the
// kernels' launchers, so the same file builds against any version of the emulation: see
// bench/results/*-emulation-speed.txt for the before/after of the fiber scheduler.
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/elementwise.cuh"
#include "kernels/locally_connected.cuh"

namespace {

void relu_forward(benchmark::State& state) {
  const size_t n = 8 * 32 * 26 * 26;  // 173,056 values
  std::vector<float> a(n, -0.5f), h(n);
  for (size_t i = 0; i < n; i += 2) a[i] = 1.0f;
  for (auto _ : state) bioprop::kernels::activation_forward(bioprop::Activation::relu, a.data(), h.data(), n, nullptr);
  const size_t threads =
      bioprop::blocks_for(n, bioprop::kernels::elementwise_block) * bioprop::kernels::elementwise_block;
  state.counters["emulated_threads_per_s"] =
      benchmark::Counter(static_cast<double>(threads * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(relu_forward)->Unit(benchmark::kMillisecond)->MinTime(0.5);

void locally_connected_forward(benchmark::State& state) {
  // 8 images of 8 channels, 12 x 12, 3 x 3 unshared filters, 16 output channels: 10 x 10 positions.
  bioprop::WindowGeometry g{8, 8, 12, 12, 16, 10, 10, 3, 3, 1, 0};
  std::vector<float> x(8 * 8 * 12 * 12, 0.25f), w(10 * 10 * 16 * 8 * 9, 0.5f), y(8 * 16 * 10 * 10);
  for (auto _ : state) bioprop::kernels::locally_connected_forward(x.data(), w.data(), y.data(), g, nullptr);
  using bioprop::kernels::lc_tile;
  const size_t blocks = bioprop::blocks_for(8, lc_tile) * bioprop::blocks_for(16, lc_tile) *
                        bioprop::kernels::lc_position_blocks(g, bioprop::kernels::lc_max_position_blocks);
  state.counters["emulated_threads_per_s"] = benchmark::Counter(
      static_cast<double>(blocks * lc_tile * lc_tile * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(locally_connected_forward)->Unit(benchmark::kMillisecond)->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
