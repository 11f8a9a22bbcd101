#pragma once
// Row-major single-precision matrix products for the CPU backend: c = alpha op(a) op(b) + beta c, with
// op(a) m x k, op(b) k x n and leading dimensions as cblas_sgemm's. OpenBLAS by default; BIOPROP_CPU_GEMM=onednn
// picks oneDNN's sgemm, which on the development machine (AMD EPYC, AVX-512) ran the dense layers' backward
// products 2x faster than Debian's OpenBLAS 0.3.21 and small products up to 4x (bench/cpu_bounds_bench,
// docs/performance.md). It is not the default: with it, the stop-on-signal tests aborted in CI with a corrupted
// heap ("munmap_chunk(): invalid pointer") when SIGTERM or SIGINT arrived during training. oneDNN issue #4845
// reports the cause: its AVX-512 sgemm kernel points the stack pointer into heap memory, so a signal handler
// that runs meanwhile writes its frame there. Safe only once no stop handler can run on a compute thread.
namespace bioprop {

enum class CpuGemm { onednn, openblas };
// BIOPROP_CPU_GEMM = openblas (or unset) | onednn; any other value is an Error naming it.
CpuGemm cpu_gemm_from_environment();

// With the library BIOPROP_CPU_GEMM names (read on the first call).
void sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);
void sgemm(CpuGemm library, bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace bioprop
