// What bounds a CPU training step (docs/performance.md): OpenBLAS's and oneDNN's sgemm FLOP/s on the conv net's dense
// layer (batch 128, 8192 inputs, 500 units: its forward, backward-data and weight-gradient products) and
// on a large square product (the machine's practical peak), and the memory bandwidth of one pass over a
// 32 MiB tensor (what every element-wise layer of a 128-image batch costs at least). Its counters differ
// per benchmark, so save the console output (Google Benchmark's CSV wants the same counters in every row).
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <vector>

#include "cpu/sgemm.hpp"

namespace {

// openblas and onednn: the libraries' own calls; bioprop: CpuBackend's sgemm (oneDNN's, with the products
// that are faster transposed computed that way).
enum class Library { openblas, onednn, bioprop };

// C (m x n) = op(A) op(B) with the dense layer's shapes for each of its three products, by either library
// (CpuBackend uses oneDNN's: host/cpu/sgemm.hpp).
void sgemm(benchmark::State& state, bool transpose_a, bool transpose_b, Library library) {
  const int m = static_cast<int>(state.range(0)), n = static_cast<int>(state.range(1)),
            k = static_cast<int>(state.range(2));
  std::vector<float> a(static_cast<size_t>(m) * k, 0.5f), b(static_cast<size_t>(k) * n, 0.25f),
      c(static_cast<size_t>(m) * n);
  const int lda = transpose_a ? m : k, ldb = transpose_b ? k : n;
  for (auto _ : state) {
    if (library == Library::openblas)
      cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, m, n,
                  k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), n);
    else if (library == Library::bioprop)
      bioprop::sgemm(bioprop::CpuGemm::onednn, transpose_a, transpose_b, m, n, k, 1.0f, a.data(), lda, b.data(), ldb,
                     0.0f, c.data(), n);
    else if (dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, 1.0f, a.data(), lda, b.data(), ldb,
                        0.0f, c.data(), n) != dnnl_success)
      state.SkipWithError("dnnl_sgemm failed");
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
// forward y = x W^T: (128 x 8192) (8192 x 500); backward data dx = dy W: (128 x 500) (500 x 8192);
// weight gradient dW = dy^T x: (500 x 128) (128 x 8192); the forward product at batch 32; and a square 2048
// product.
#define BIOPROP_SGEMM_SHAPES(library)                                                      \
  BENCHMARK_CAPTURE(sgemm, dense_forward_##library, false, true, Library::library)         \
      ->Args({128, 500, 8192})                                                             \
      ->Args({32, 500, 8192})                                                              \
      ->UseRealTime();                                                                     \
  BENCHMARK_CAPTURE(sgemm, dense_backward_data_##library, false, false, Library::library)  \
      ->Args({128, 8192, 500})                                                             \
      ->UseRealTime();                                                                     \
  BENCHMARK_CAPTURE(sgemm, dense_weight_gradient_##library, true, false, Library::library) \
      ->Args({500, 8192, 128})                                                             \
      ->UseRealTime();                                                                     \
  BENCHMARK_CAPTURE(sgemm, square_2048_##library, false, false, Library::library)          \
      ->Args({2048, 2048, 2048})                                                           \
      ->UseRealTime()
BIOPROP_SGEMM_SHAPES(openblas);
BIOPROP_SGEMM_SHAPES(onednn);
BIOPROP_SGEMM_SHAPES(bioprop);

// out = in * mask over 8M floats (the deep net's 128 x 64 x 32 x 32 activations): bytes read and written.
void element_wise_pass(benchmark::State& state) {
  const size_t n = size_t{128} * 64 * 32 * 32;
  std::vector<float> in(n, 1.0f), mask(n, 2.0f), out(n);
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) out[i] = in[i] * mask[i];
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GB/s"] = benchmark::Counter(3.0 * sizeof(float) * n * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(element_wise_pass)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
