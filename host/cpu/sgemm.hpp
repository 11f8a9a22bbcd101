#pragma once
// Row-major single-precision matrix products for the CPU backend: c = alpha op(a) op(b) + beta c, with
// op(a) m x k, op(b) k x n and leading dimensions as cblas_sgemm's. oneDNN's sgemm by default: on the
// development machine (AMD EPYC, AVX-512) it ran the dense layers' backward products 2x faster than Debian's
// OpenBLAS 0.3.21 and small products up to 4x (bench/cpu_bounds_bench, docs/performance.md);
// BIOPROP_CPU_GEMM=openblas picks OpenBLAS. Its AVX-512 kernel points the stack pointer into heap memory while it
// runs (oneDNN issue #4845), so no signal handler may run on a thread that calls it: StopOnSignals and
// ComputeThreadsShielded (signal_shield.hpp) keep SIGINT and SIGTERM off those threads.
namespace bioprop {

enum class CpuGemm { onednn, openblas };
// BIOPROP_CPU_GEMM = onednn (or unset) | openblas; any other value is an Error naming it.
CpuGemm cpu_gemm_from_environment();
// The library the one-library sgemm below uses: BIOPROP_CPU_GEMM as it was on the first call.
CpuGemm cpu_gemm_in_use();

// With the library BIOPROP_CPU_GEMM names (read on the first call).
void sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);
void sgemm(CpuGemm library, bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace bioprop
