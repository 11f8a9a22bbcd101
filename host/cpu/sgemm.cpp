#include "sgemm.hpp"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <vector>

#include "bioprop/error.hpp"
#include "environment_choice.hpp"

namespace bioprop {

namespace {

void onednn_sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
                  const float* b, int ldb, float beta, float* c, int ldc) {
  const dnnl_status_t status =
      dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success)
    fail("oneDNN sgemm of {}x{} by {}x{} failed (status {})", m, k, k, n, static_cast<int>(status));
}

// c = alpha a b^T + beta c computed as its transpose, c^T = b a^T, then transposed into c. oneDNN's sgemm
// (Debian's 2.7) runs a b^T with fewer rows than columns up to 4.5x slower than the same product the other way
// round: the dense layers' forward product x W^T (batch 128, 8192 inputs, 500 units) took 6.5 ms, its
// transpose 4.4 ms, batch 32 4.5 ms and 1.0 ms (2 threads, AMD EPYC; bench/cpu_bounds_bench). The choice
// depends only on the shape, so results stay deterministic. The transposed product is m x n floats in a
// buffer of this thread's that only grows.
void onednn_sgemm_through_transposed_product(int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                                             int ldb, float beta, float* c, int ldc) {
  thread_local std::vector<float> transposed;
  const size_t rows = static_cast<size_t>(m), columns = static_cast<size_t>(n);
  if (transposed.size() < rows * columns) transposed.resize(rows * columns);
  onednn_sgemm(false, true, n, m, k, alpha, b, ldb, a, lda, 0.0f, transposed.data(), m);
  for (size_t i = 0; i < rows; ++i) {
    float* row = c + i * static_cast<size_t>(ldc);
    if (beta == 0.0f)  // BLAS semantics: c is not read (it may hold anything, NaN included)
      for (size_t j = 0; j < columns; ++j) row[j] = transposed[j * rows + i];
    else
      for (size_t j = 0; j < columns; ++j) row[j] = transposed[j * rows + i] + beta * row[j];
  }
}

}  // namespace

CpuGemm cpu_gemm_from_environment() {
  return choice_from_environment<CpuGemm>("BIOPROP_CPU_GEMM",
                                          {{"onednn", CpuGemm::onednn}, {"openblas", CpuGemm::openblas}});
}

CpuGemm cpu_gemm_in_use() {
  static const CpuGemm library = cpu_gemm_from_environment();
  return library;
}

void sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc) {
  sgemm(cpu_gemm_in_use(), transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemm(CpuGemm library, bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (library == CpuGemm::openblas) {
    cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (!transpose_a && transpose_b && n > m) {
    onednn_sgemm_through_transposed_product(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  onednn_sgemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace bioprop
