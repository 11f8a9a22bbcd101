// Our locally connected kernels on the GPU, on the loccon net's layer shapes with CIFAR-10 inputs
// (batch 32 as in the BrainProp reference): time, GFLOP/s and GB/s of forward, backward-data and
// backward-weight. FLOPs count 2 per multiply-add; bytes count one read of the inputs and weights and
// one write of the outputs (the minimum traffic, so GB/s is a lower bound of what was moved).
// The fractions of the device's peak bandwidth and FP32 rate (from its clocks, cuda_device_peaks) are
// reported beside them; the PyTorch peer (bench/peers/lc_pytorch.py) times the same shapes with
// unfold + einsum.
#include <benchmark/benchmark.h>

#include "bioprop/device.hpp"

namespace {

using namespace bioprop;

WindowGeometry layer(int index) {
  // loccon on 3x32x32: LC32 3x3 s1 (valid) -> 32x30x30, then LC32 3x3 s2 -> 32x14x14.
  WindowGeometry g = index == 0 ? WindowGeometry{32, 3, 32, 32, 32, 30, 30, 3, 3, 1, 0}
                                : WindowGeometry{32, 32, 30, 30, 32, 14, 14, 3, 3, 2, 0};
  return g;
}

enum Pass { forward = 0, backward_data = 1, backward_weight = 2 };

void lc_kernel(benchmark::State& state) {
  if (cuda_device_count() == 0) {
    state.SkipWithError("no CUDA device");
    for (auto _ : state) {
    }
    return;
  }
  const WindowGeometry g = layer(static_cast<int>(state.range(0)));
  const auto pass = static_cast<Pass>(state.range(1));
  auto gpu = make_cuda_backend(0);
  Tensor x({g.batch, g.in_channels, g.in_h, g.in_w}, Device::cuda),
      y({g.batch, g.out_channels, g.out_h, g.out_w}, Device::cuda);
  Tensor w({g.out_h, g.out_w, g.out_channels, g.in_channels, g.kernel_h, g.kernel_w}, Device::cuda);
  gpu->random_normal(x, 0, 1, 1, 0);
  gpu->random_normal(y, 0, 1, 2, 0);
  gpu->random_normal(w, 0, 1, 3, 0);
  for (auto _ : state) {
    if (pass == forward) gpu->locally_connected_forward(x, w, y, g);
    if (pass == backward_data) gpu->locally_connected_backward_data(y, w, x, g);
    if (pass == backward_weight) gpu->locally_connected_backward_weight(y, x, 0.0f, w, g);
    gpu->synchronize();
  }
  const double flops = 2.0 * g.batch * g.positions() * g.out_channels * g.patch_size();
  const double bytes = 4.0 * static_cast<double>(x.numel() + y.numel() + w.numel());
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["GB/s"] =
      benchmark::Counter(bytes * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  // Fractions of the device's peaks: the kernels are bound by memory traffic, so the bandwidth
  // fraction is the roofline measure (the target: at least half).
  const DevicePeaks peaks = cuda_device_peaks(0);
  if (peaks.memory_gb_per_s > 0)
    state.counters["fraction_of_peak_bandwidth"] = benchmark::Counter(
        bytes * 1e-9 / peaks.memory_gb_per_s * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (peaks.fp32_gflop_per_s > 0)
    state.counters["fraction_of_peak_fp32"] = benchmark::Counter(
        flops * 1e-9 / peaks.fp32_gflop_per_s * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(cuda_device_name(0));
}

BENCHMARK(lc_kernel)
    ->ArgsProduct({{0, 1}, {forward, backward_data, backward_weight}})
    ->ArgNames({"layer", "pass"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
