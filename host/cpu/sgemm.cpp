#include "sgemm.hpp"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <cstdlib>
#include <string>

#include "bioprop/error.hpp"

namespace bioprop {

CpuGemm cpu_gemm_from_environment() {
  const char* value = std::getenv("BIOPROP_CPU_GEMM");
  const std::string name = value ? value : "onednn";
  if (name == "onednn") return CpuGemm::onednn;
  if (name == "openblas") return CpuGemm::openblas;
  fail("BIOPROP_CPU_GEMM='{}': expected onednn or openblas", name);
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
  const dnnl_status_t status =
      dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success)
    fail("oneDNN sgemm of {}x{} by {}x{} failed (status {})", m, k, k, n, static_cast<int>(status));
}

}  // namespace bioprop
