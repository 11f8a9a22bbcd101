// The cuBLAS functions bioprop calls, on the emulated device, as NVIDIA's cuBLAS documentation defines
// them: column-major storage, op(A) = A, A^T (or A^H, the same for reals), leading dimensions checked
// against cuBLAS's rules, host-side alpha / beta read at the call, beta = 0 meaning C is not read.
// The work is queued on the handle's stream like a kernel; operand bounds are checked at the call.
#include <cublas_v2.h>

#include <cmath>
#include <string>
#include <vector>

#include "device_state.hpp"
#include "tf32.hpp"

using bioprop::emulated::DeviceState;

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace {

DeviceState& state() { return DeviceState::get(); }

std::string& detail_of(cublasStatus_t status) {
  static std::string details[16];
  return details[static_cast<unsigned>(status) % 16];
}

cublasStatus_t failed(cublasStatus_t status, const std::string& detail) {
  detail_of(status) = detail;
  return status;
}

// The floats a column-major rows x cols operand with leading dimension ld spans.
size_t span(int rows, int cols, int ld) {
  if (rows == 0 || cols == 0) return 0;
  return static_cast<size_t>(cols - 1) * static_cast<size_t>(ld) + static_cast<size_t>(rows);
}

size_t vector_span(int n, int inc) {
  return n <= 0 ? 0 : static_cast<size_t>(n - 1) * static_cast<size_t>(std::abs(inc)) + 1;
}

cublasStatus_t check_operand(const char* call, const char* name, const void* p, size_t floats) {
  if (const std::string problem = state().check_device_range(p, floats * sizeof(float), call, name); !problem.empty())
    return failed(CUBLAS_STATUS_INVALID_VALUE, problem);
  return CUBLAS_STATUS_SUCCESS;
}

// Queues work on the handle's stream (the legacy default stream until cublasSetStream).
cublasStatus_t queue(cublasHandle_t handle, const char* call, std::function<void()> work) {
  CUstream_st* stream = state().stream(handle->stream);
  if (!stream) return failed(CUBLAS_STATUS_EXECUTION_FAILED, std::string(call) + ": the handle's stream was destroyed");
  state().enqueue(stream, call, std::move(work));
  return CUBLAS_STATUS_SUCCESS;
}

bool valid_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

}  // namespace

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (!handle) return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasCreate: null pointer to the handle");
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (!handle) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasDestroy: null handle");
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetStream: null handle");
  std::lock_guard lock(state().mutex);
  if (!state().stream(stream))
    return failed(CUBLAS_STATUS_INVALID_VALUE,
                  "cublasSetStream: " + bioprop::emulated::pointer_text(stream) + " is not a live stream");
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetMathMode: null handle");
  const unsigned base = static_cast<unsigned>(mode) & 0xF;
  if (base > CUBLAS_TF32_TENSOR_OP_MATH)
    return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSetMathMode: unknown mode " + std::to_string(mode));
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusString(cublasStatus_t status) {
  static thread_local std::string text;
  const char* name = "CUBLAS_STATUS_UNKNOWN";
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      name = "CUBLAS_STATUS_SUCCESS";
      break;
    case CUBLAS_STATUS_NOT_INITIALIZED:
      name = "CUBLAS_STATUS_NOT_INITIALIZED";
      break;
    case CUBLAS_STATUS_INVALID_VALUE:
      name = "CUBLAS_STATUS_INVALID_VALUE";
      break;
    case CUBLAS_STATUS_EXECUTION_FAILED:
      name = "CUBLAS_STATUS_EXECUTION_FAILED";
      break;
    default:
      break;
  }
  text = name;
  if (status != CUBLAS_STATUS_SUCCESS && !detail_of(status).empty())
    text += " [emulated device: " + detail_of(status) + "]";
  return text.c_str();
}

// C = alpha op(A) op(B) + beta C, column-major; C is m x n, op(A) m x k, op(B) k x n.
cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                              int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                              const float* beta, float* C, int ldc) {
  if (!handle) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSgemm: null handle");
  std::lock_guard lock(state().mutex);
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
  const int a_rows = ta ? k : m, b_rows = tb ? n : k;
  std::string problem;
  if (!valid_op(transa) || !valid_op(transb))
    problem = "an unknown cublasOperation_t";
  else if (m < 0 || n < 0 || k < 0)
    problem = "m, n, k = " + std::to_string(m) + ", " + std::to_string(n) + ", " + std::to_string(k) +
              ": none may be negative";
  else if (lda < std::max(1, a_rows))
    problem = "lda = " + std::to_string(lda) + " < max(1, " + (ta ? "k" : "m") + " = " + std::to_string(a_rows) + ")";
  else if (ldb < std::max(1, b_rows))
    problem = "ldb = " + std::to_string(ldb) + " < max(1, " + (tb ? "n" : "k") + " = " + std::to_string(b_rows) + ")";
  else if (ldc < std::max(1, m))
    problem = "ldc = " + std::to_string(ldc) + " < max(1, m = " + std::to_string(m) + ")";
  else if (!alpha || !beta)
    problem = "alpha and beta must be host pointers (CUBLAS_POINTER_MODE_HOST)";
  if (!problem.empty()) return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSgemm: " + problem);
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const float a_scale = *alpha, c_scale = *beta;
  const bool reads_products = k > 0 && a_scale != 0.0f;
  if (reads_products) {
    if (const auto s = check_operand("cublasSgemm", "A", A, span(a_rows, ta ? m : k, lda))) return s;
    if (const auto s = check_operand("cublasSgemm", "B", B, span(b_rows, tb ? k : n, ldb))) return s;
  }
  if (const auto s = check_operand("cublasSgemm", "C", C, span(m, n, ldc))) return s;
  // FP32 products summed in FP64, unless the handle allows TF32 tensor cores (operands rounded to TF32).
  const bool tf32 = (handle->math & 0xF) == CUBLAS_TF32_TENSOR_OP_MATH;
  return queue(handle, "cublasSgemm", [=] {
    // op(A) (m x k) and op(B) (k x n) copied to packed column-major form, then each column of C summed
    // in FP64 over k: the definition, in an order the compiler vectorises.
    using bioprop::emulated::tf32_if;
    std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * n);
    if (reads_products) {
      for (int p = 0; p < k; ++p)
        for (int i = 0; i < m; ++i)
          a[i + static_cast<size_t>(p) * m] =
              tf32_if(tf32, ta ? A[p + static_cast<size_t>(i) * lda] : A[i + static_cast<size_t>(p) * lda]);
      for (int j = 0; j < n; ++j)
        for (int p = 0; p < k; ++p)
          b[p + static_cast<size_t>(j) * k] =
              tf32_if(tf32, tb ? B[j + static_cast<size_t>(p) * ldb] : B[p + static_cast<size_t>(j) * ldb]);
    }
#pragma omp parallel for schedule(static)
    for (int j = 0; j < n; ++j) {
      std::vector<double> column(static_cast<size_t>(m), 0.0);
      if (reads_products)
        for (int p = 0; p < k; ++p) {
          const double bpj = b[p + static_cast<size_t>(j) * k];
          const float* a_p = a.data() + static_cast<size_t>(p) * m;
          for (int i = 0; i < m; ++i) column[i] += a_p[i] * bpj;
        }
      for (int i = 0; i < m; ++i) {
        float& c = C[i + static_cast<size_t>(j) * ldc];
        // beta == 0: C is output only (it may hold NaNs), as cuBLAS documents.
        c = static_cast<float>(a_scale * column[i] + (c_scale == 0.0f ? 0.0 : static_cast<double>(c_scale) * c));
      }
    }
  });
}

cublasStatus_t cublasSaxpy_v2(cublasHandle_t handle, int n, const float* alpha, const float* x, int incx, float* y,
                              int incy) {
  if (!handle) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSaxpy: null handle");
  std::lock_guard lock(state().mutex);
  if (!alpha) return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSaxpy: alpha must be a host pointer");
  if (n <= 0) return CUBLAS_STATUS_SUCCESS;
  if (incx == 0 || incy == 0) return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSaxpy: incx and incy must not be 0");
  if (const auto s = check_operand("cublasSaxpy", "x", x, vector_span(n, incx))) return s;
  if (const auto s = check_operand("cublasSaxpy", "y", y, vector_span(n, incy))) return s;
  const float a = *alpha;
  return queue(handle, "cublasSaxpy", [=] {
    // Negative increments walk the vector from its far end, as in the reference BLAS.
    const long long x0 = incx < 0 ? static_cast<long long>(n - 1) * -incx : 0;
    const long long y0 = incy < 0 ? static_cast<long long>(n - 1) * -incy : 0;
    for (long long i = 0; i < n; ++i) y[y0 + i * incy] = std::fma(a, x[x0 + i * incx], y[y0 + i * incy]);
  });
}

cublasStatus_t cublasSscal_v2(cublasHandle_t handle, int n, const float* alpha, float* x, int incx) {
  if (!handle) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSscal: null handle");
  std::lock_guard lock(state().mutex);
  if (!alpha) return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSscal: alpha must be a host pointer");
  if (n <= 0 || incx <= 0) return CUBLAS_STATUS_SUCCESS;  // the reference BLAS does nothing then
  if (const auto s = check_operand("cublasSscal", "x", x, vector_span(n, incx))) return s;
  const float a = *alpha;
  return queue(handle, "cublasSscal", [=] {
    for (long long i = 0; i < n; ++i) x[i * incx] *= a;
  });
}
