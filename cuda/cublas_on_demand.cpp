// cuBLAS, loaded the first time CudaBackend calls it. A process linked against libcublas maps libcublasLt
// with it, and relocating that library's image makes 61 MiB of it resident (/proc/PID/smaps of a CPU run of
// `bioprop bench`, issue 18): every CPU-only run paid that for a library it never calls. These are the eight
// cuBLAS functions bioprop calls, with cublas_api.h's exact signatures; each resolves the library's own
// definition with dlsym once, on its first call. cuDNN 9 and NCCL already load their large parts on demand.
#include <cublas_v2.h>
#include <dlfcn.h>

#include <string>

namespace {

#define BIOPROP_STRINGIFY(x) #x
#define BIOPROP_SONAME(major) "libcublas.so." BIOPROP_STRINGIFY(major)
constexpr const char* cublas_soname = BIOPROP_SONAME(CUBLAS_VER_MAJOR);

struct Library {
  void* handle = nullptr;
  std::string error;  // dlerror()'s text when the library could not be loaded
};

const Library& cublas_library() {
  static const Library library = [] {
    Library l;
    l.handle = dlopen(cublas_soname, RTLD_NOW | RTLD_LOCAL);
    if (!l.handle) l.error = std::string(cublas_soname) + " could not be loaded: " + dlerror();
    return l;
  }();
  return library;
}

template <typename Function>
Function* resolve(const char* name) {
  void* handle = cublas_library().handle;
  return handle ? reinterpret_cast<Function*>(dlsym(handle, name)) : nullptr;
}

}  // namespace

// The library's own `name`, called with the arguments; CUBLAS_STATUS_NOT_INITIALIZED when it cannot be
// loaded (cublasGetStatusString then says why).
#define BIOPROP_CALL_CUBLAS(name, ...)                                       \
  do {                                                                       \
    static auto* const function = resolve<decltype(name)>(#name);            \
    return function ? function(__VA_ARGS__) : CUBLAS_STATUS_NOT_INITIALIZED; \
  } while (false)

extern "C" {

cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t* handle) { BIOPROP_CALL_CUBLAS(cublasCreate_v2, handle); }

cublasStatus_t CUBLASWINAPI cublasDestroy_v2(cublasHandle_t handle) { BIOPROP_CALL_CUBLAS(cublasDestroy_v2, handle); }

cublasStatus_t CUBLASWINAPI cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  BIOPROP_CALL_CUBLAS(cublasSetStream_v2, handle, stream);
}

cublasStatus_t CUBLASWINAPI cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  BIOPROP_CALL_CUBLAS(cublasSetMathMode, handle, mode);
}

cublasStatus_t CUBLASWINAPI cublasSscal_v2(cublasHandle_t handle, int n, const float* alpha, float* x, int incx) {
  BIOPROP_CALL_CUBLAS(cublasSscal_v2, handle, n, alpha, x, incx);
}

cublasStatus_t CUBLASWINAPI cublasSaxpy_v2(cublasHandle_t handle, int n, const float* alpha, const float* x, int incx,
                                           float* y, int incy) {
  BIOPROP_CALL_CUBLAS(cublasSaxpy_v2, handle, n, alpha, x, incx, y, incy);
}

cublasStatus_t CUBLASWINAPI cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                           int m, int n, int k, const float* alpha, const float* a, int lda,
                                           const float* b, int ldb, const float* beta, float* c, int ldc) {
  BIOPROP_CALL_CUBLAS(cublasSgemm_v2, handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char* CUBLASWINAPI cublasGetStatusString(cublasStatus_t status) {
  const Library& library = cublas_library();
  if (!library.handle) return library.error.c_str();
  static auto* const function = resolve<decltype(cublasGetStatusString)>("cublasGetStatusString");
  return function ? function(status) : "cublasGetStatusString not found in the cuBLAS library";
}

}  // extern "C"
