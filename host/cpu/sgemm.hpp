#pragma once
// Row-major single-precision matrix products for the CPU backend: c = alpha op(a) op(b) + beta c, with
// op(a) m x k, op(b) k x n and leading dimensions as cblas_sgemm's. oneDNN's sgemm by default: on the
// development machine (AMD EPYC, AVX-512) it ran the reference nets' products up to 4x faster than Debian's
// OpenBLAS 0.3.21, which PyTorch also uses, and the dense layers' backward ones 2x (their forward one about
// as fast; bench/cpu_bounds_bench, docs/performance.md).
// BIOPROP_CPU_GEMM=openblas picks OpenBLAS instead (the former path, for comparison).
namespace bioprop {

enum class CpuGemm { onednn, openblas };
// BIOPROP_CPU_GEMM = onednn (or unset) | openblas, read once; any other value is an Error naming it.
CpuGemm cpu_gemm_from_environment();

void sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace bioprop
