// The cuDNN functions bioprop calls, on the emulated device, as NVIDIA's cuDNN API reference defines
// them: 4d NCHW float tensors, KCRS filters, 2d convolution descriptors (padding, stride, dilation,
// cross-correlation or convolution mode), forward / backward-data / backward-filter as direct loops
// over that meaning with alpha / beta (beta = 0: the output is not read), max and average pooling.
//
// Algorithms: the _v7 queries return several ranked candidates with workspace sizes that depend on the
// algorithm and on the descriptor's math type (as cuDNN's do), and running one with a smaller workspace
// than it needs fails. To exercise a backend's fallbacks, FFT is ranked first with a large workspace and
// WINOGRAD is offered for every shape but runs only 3x3 filters at stride 1 (else
// CUDNN_STATUS_NOT_SUPPORTED, as cuDNN answers). Math: CUDNN_DEFAULT_MATH and the tensor-op maths round
// the operands to TF32 as an sm_90 device may; CUDNN_FMA_MATH computes in FP32.
#include <cudnn.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "device_state.hpp"
#include "tf32.hpp"

using bioprop::emulated::DeviceState;

struct cudnnContext {
  cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
  bool set = false;
  int n = 0, c = 0, h = 0, w = 0;
  size_t count() const { return static_cast<size_t>(n) * c * h * w; }
};
struct cudnnFilterStruct {
  bool set = false;
  int k = 0, c = 0, r = 0, s = 0;
  size_t count() const { return static_cast<size_t>(k) * c * r * s; }
};
struct cudnnConvolutionStruct {
  bool set = false;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  bool flip = false;  // CUDNN_CONVOLUTION flips the filter; CUDNN_CROSS_CORRELATION does not
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};
struct cudnnPoolingStruct {
  bool set = false;
  cudnnPoolingMode_t mode = CUDNN_POOLING_MAX;
  int window_h = 0, window_w = 0, pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1;
};

namespace {

DeviceState& state() { return DeviceState::get(); }

std::string& detail_of(cudnnStatus_t status) {
  static std::map<cudnnStatus_t, std::string> details;
  return details[status];
}

cudnnStatus_t failed(cudnnStatus_t status, const std::string& detail) {
  detail_of(status) = detail;
  return status;
}

std::string dims(int a, int b, int c, int d) {
  return std::to_string(a) + "x" + std::to_string(b) + "x" + std::to_string(c) + "x" + std::to_string(d);
}

cudnnStatus_t check_operand(const char* call, const char* name, const void* p, size_t floats) {
  if (const std::string problem = state().check_device_range(p, floats * sizeof(float), call, name); !problem.empty())
    return failed(CUDNN_STATUS_BAD_PARAM, problem);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t queue(cudnnHandle_t handle, const char* call, std::function<void()> work) {
  CUstream_st* stream = state().stream(handle->stream);
  if (!stream) return failed(CUDNN_STATUS_EXECUTION_FAILED, std::string(call) + ": the handle's stream was destroyed");
  state().enqueue(stream, call, std::move(work));
  return CUDNN_STATUS_SUCCESS;
}

// One convolution's shapes, checked against each other.
struct Convolution {
  int n, c, h, w, k, r, s, out_h, out_w;
  cudnnConvolutionStruct d;
  // Input row of output row i and filter row `row` (and the same for columns).
  int in_row(int i, int row) const { return i * d.stride_h - d.pad_h + row * d.dilation_h; }
  int in_col(int j, int col) const { return j * d.stride_w - d.pad_w + col * d.dilation_w; }
  // Where filter tap (row, col) is stored: flipped in convolution mode.
  size_t filter_index(int kk, int cc, int row, int col) const {
    const int rr = d.flip ? r - 1 - row : row, ss = d.flip ? s - 1 - col : col;
    return ((static_cast<size_t>(kk) * c + cc) * r + rr) * s + ss;
  }
  bool tf32() const { return d.math != CUDNN_FMA_MATH; }
};

// Calls visit(x_index, w_index) for every filter tap of output (n, k, i, j) that falls inside the image
// (padding contributes zeros): the one loop the three directions share.
template <typename Visit>
void for_each_tap(const Convolution& g, int n, int k, int i, int j, Visit visit) {
  for (int c = 0; c < g.c; ++c)
    for (int row = 0; row < g.r; ++row) {
      const int in_row = g.in_row(i, row);
      if (in_row < 0 || in_row >= g.h) continue;
      for (int col = 0; col < g.s; ++col) {
        const int in_col = g.in_col(j, col);
        if (in_col < 0 || in_col >= g.w) continue;
        visit(((static_cast<size_t>(n) * g.c + c) * g.h + in_row) * g.w + in_col, g.filter_index(k, c, row, col));
      }
    }
}

// out = alpha * value + beta * out; beta = 0 means out is not read (it may hold NaNs), as cuDNN documents.
void blend(float& out, double value, float alpha, float beta) {
  out = static_cast<float>(alpha * value + (beta == 0.0f ? 0.0 : static_cast<double>(beta) * out));
}

int output_size(int in, int pad, int filter, int dilation, int stride) {
  return (in + 2 * pad - ((filter - 1) * dilation + 1)) / stride + 1;
}

cudnnStatus_t describe(const char* call, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                       cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t y, Convolution* out) {
  if (!x || !w || !conv || !y || !x->set || !w->set || !conv->set || !y->set)
    return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": a descriptor is null or was never set");
  Convolution g{x->n, x->c, x->h, x->w, w->k, w->r, w->s, 0, 0, *conv};
  g.out_h = output_size(x->h, conv->pad_h, w->r, conv->dilation_h, conv->stride_h);
  g.out_w = output_size(x->w, conv->pad_w, w->s, conv->dilation_w, conv->stride_w);
  std::string problem;
  if (w->c != x->c)
    problem = "the filter has " + std::to_string(w->c) + " input channels, the input " + std::to_string(x->c);
  else if (g.out_h <= 0 || g.out_w <= 0)
    problem = "the filter does not fit the padded input";
  else if (y->n != x->n || y->c != w->k || y->h != g.out_h || y->w != g.out_w)
    problem = "the output descriptor is " + dims(y->n, y->c, y->h, y->w) + ", the convolution gives " +
              dims(x->n, w->k, g.out_h, g.out_w);
  if (!problem.empty()) return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": " + problem);
  *out = g;
  return CUDNN_STATUS_SUCCESS;
}

// --- algorithms and workspaces ------------------------------------------------------------------------

enum class Direction { forward, backward_data, backward_filter };

size_t fft_workspace(const Convolution& g) {
  size_t tile = 1;
  while (tile < static_cast<size_t>(std::max(g.h + 2 * g.d.pad_h, g.w + 2 * g.d.pad_w))) tile *= 2;
  return 2 * sizeof(float) * tile * tile *
         (static_cast<size_t>(g.n) * g.c + static_cast<size_t>(g.k) * g.c + static_cast<size_t>(g.n) * g.k);
}

// Workspace bytes of algorithm `algo` (numbered as in the direction's enum) under `math`.
size_t workspace_bytes(Direction direction, int algo, const Convolution& g, cudnnMathType_t math) {
  const size_t positions = static_cast<size_t>(g.out_h) * g.out_w, taps = static_cast<size_t>(g.r) * g.s;
  const size_t relaid_filter = math == CUDNN_FMA_MATH ? sizeof(float) * g.k * g.c * taps : 0;
  switch (direction) {
    case Direction::forward:
      switch (algo) {
        case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM:
          return 0;
        case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
          return sizeof(int) * positions * taps + relaid_filter;
        case CUDNN_CONVOLUTION_FWD_ALGO_GEMM:
          return sizeof(float) * g.c * taps * positions;
        case CUDNN_CONVOLUTION_FWD_ALGO_FFT:
          return fft_workspace(g);
        case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD:
          return sizeof(float) * 16 * g.k * g.c;
        default:
          return 0;
      }
    case Direction::backward_data:
      switch (algo) {
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0:
          return 0;
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1:
          return sizeof(int) * positions * taps + relaid_filter;
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT:
          return fft_workspace(g);
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD:
          return sizeof(float) * 16 * g.k * g.c;
        default:
          return 0;
      }
    case Direction::backward_filter:
      switch (algo) {
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0:
          return 0;
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1:
          return sizeof(float) * g.k * g.c * taps + relaid_filter;
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3:
          return sizeof(float) * g.k * g.c * taps * 4;
        case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT:
          return fft_workspace(g);
        default:
          return 0;
      }
  }
  return 0;
}

bool known_algorithm(Direction direction, int algo) {
  switch (direction) {
    case Direction::forward:
      return algo >= 0 && algo < CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    case Direction::backward_data:
      return algo >= 0 && algo < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
    case Direction::backward_filter:
      return algo >= 0 && algo < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  }
  return false;
}

bool is_winograd(Direction direction, int algo) {
  return (direction == Direction::forward && algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD) ||
         (direction == Direction::backward_data && algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD);
}

// The emulation runs every algorithm as the same direct loop; only FFT (stride 1, no dilation) and
// WINOGRAD (3x3, stride 1, no dilation) refuse shapes, as cuDNN's do.
bool supports(Direction direction, int algo, const Convolution& g) {
  const bool unit = g.d.stride_h == 1 && g.d.stride_w == 1 && g.d.dilation_h == 1 && g.d.dilation_w == 1;
  const bool fft = (direction == Direction::forward && algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT) ||
                   (direction == Direction::backward_data && algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT) ||
                   (direction == Direction::backward_filter && algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT);
  if (fft) return unit;
  if (is_winograd(direction, algo)) return unit && g.r == 3 && g.s == 3;
  return true;
}

struct Candidate {
  int algo;
  cudnnMathType_t math;
};

// The ranking the _v7 queries return, best first.
std::vector<Candidate> ranking(Direction direction) {
  switch (direction) {
    case Direction::forward:
      return {{CUDNN_CONVOLUTION_FWD_ALGO_FFT, CUDNN_FMA_MATH},
              {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, CUDNN_TENSOR_OP_MATH},
              {CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, CUDNN_FMA_MATH},
              {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, CUDNN_FMA_MATH},
              {CUDNN_CONVOLUTION_FWD_ALGO_GEMM, CUDNN_FMA_MATH},
              {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_FMA_MATH}};
    case Direction::backward_data:
      return {{CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, CUDNN_FMA_MATH},
              {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_TENSOR_OP_MATH},
              {CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD, CUDNN_FMA_MATH},
              {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_FMA_MATH},
              {CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, CUDNN_FMA_MATH}};
    case Direction::backward_filter:
      return {{CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, CUDNN_FMA_MATH},
              {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_TENSOR_OP_MATH},
              {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_FMA_MATH},
              {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, CUDNN_FMA_MATH},
              {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, CUDNN_FMA_MATH}};
  }
  return {};
}

template <typename Perf>
cudnnStatus_t rank(const char* call, Direction direction, const Convolution& g, int requested, int* returned,
                   Perf* results) {
  if (!returned || !results || requested <= 0)
    return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": no room for results");
  const std::vector<Candidate> candidates = ranking(direction);
  int count = 0;
  // cuDNN lists the algorithms that do not support the shape last, with their status.
  for (bool supported_pass : {true, false})
    for (size_t i = 0; i < candidates.size() && count < requested; ++i) {
      const Candidate& c = candidates[i];
      // WINOGRAD is always listed as usable: its refusal comes when it runs (see the file comment).
      const bool listed_ok = is_winograd(direction, c.algo) || supports(direction, c.algo, g);
      if (listed_ok != supported_pass) continue;
      Perf& p = results[count++];
      std::memset(&p, 0, sizeof p);
      p.algo = static_cast<decltype(p.algo)>(c.algo);
      p.status = listed_ok ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED;
      p.time = -1.0f;  // heuristics do not time
      p.memory = workspace_bytes(direction, c.algo, g, c.math);
      p.determinism = CUDNN_DETERMINISTIC;
      p.mathType = c.math;
    }
  *returned = count;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t workspace_query(const char* call, Direction direction, const Convolution& g, int algo, size_t* size) {
  if (!size) return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": null size pointer");
  if (!known_algorithm(direction, algo))
    return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": unknown algorithm " + std::to_string(algo));
  if (!supports(direction, algo, g))
    return failed(CUDNN_STATUS_NOT_SUPPORTED,
                  std::string(call) + ": algorithm " + std::to_string(algo) + " does not support this shape");
  *size = workspace_bytes(direction, algo, g, g.d.math);
  return CUDNN_STATUS_SUCCESS;
}

// The checks every convolution call makes before queueing its loop.
cudnnStatus_t check_run(const char* call, Direction direction, const Convolution& g, int algo, const void* workspace,
                        size_t workspace_size, const void* alpha, const void* beta) {
  if (!alpha || !beta) return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": null alpha or beta");
  if (!known_algorithm(direction, algo))
    return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": unknown algorithm " + std::to_string(algo));
  if (!supports(direction, algo, g))
    return failed(CUDNN_STATUS_NOT_SUPPORTED, std::string(call) + ": algorithm " + std::to_string(algo) +
                                                  " does not support a " + std::to_string(g.r) + "x" +
                                                  std::to_string(g.s) + " filter at stride " +
                                                  std::to_string(g.d.stride_h));
  const size_t needed = workspace_bytes(direction, algo, g, g.d.math);
  if (workspace_size < needed)
    return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": a workspace of " + std::to_string(workspace_size) +
                                              " bytes; algorithm " + std::to_string(algo) + " with math type " +
                                              std::to_string(g.d.math) + " needs " + std::to_string(needed));
  if (needed > 0) return check_operand(call, "workSpace", workspace, needed / sizeof(float));
  return CUDNN_STATUS_SUCCESS;
}

using bioprop::emulated::tf32_if;

// cudnnCreate*Descriptor / cudnnDestroy*Descriptor: one allocation each.
template <typename Descriptor>
cudnnStatus_t create(Descriptor** d, const char* call) {
  if (!d) return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": null pointer");
  *d = new Descriptor;
  return CUDNN_STATUS_SUCCESS;
}
template <typename Descriptor>
cudnnStatus_t destroy(Descriptor* d) {
  delete d;
  return CUDNN_STATUS_SUCCESS;
}

// The checks of cudnnSetTensor4dDescriptor and cudnnSetFilter4dDescriptor: four positive sizes, NCHW float.
cudnnStatus_t check_4d(const char* call, const void* d, cudnnTensorFormat_t format, cudnnDataType_t type, int a, int b,
                       int c, int e) {
  if (!d) return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": null descriptor");
  if (a <= 0 || b <= 0 || c <= 0 || e <= 0)
    return failed(CUDNN_STATUS_BAD_PARAM,
                  std::string(call) + ": dimensions " + dims(a, b, c, e) + " must all be positive");
  if (format != CUDNN_TENSOR_NCHW || type != CUDNN_DATA_FLOAT)
    return failed(CUDNN_STATUS_NOT_SUPPORTED, std::string(call) + ": the emulation has NCHW (KCRS) float data only");
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace

// --- handles and descriptors ----------------------------------------------------------------------------

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
  if (!handle) return failed(CUDNN_STATUS_BAD_PARAM, "cudnnCreate: null pointer");
  *handle = new cudnnContext;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  delete handle;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  if (!handle) return failed(CUDNN_STATUS_BAD_PARAM, "cudnnSetStream: null handle");
  std::lock_guard lock(state().mutex);
  if (!state().stream(stream))
    return failed(CUDNN_STATUS_BAD_PARAM,
                  "cudnnSetStream: " + bioprop::emulated::pointer_text(stream) + " is not a live stream");
  handle->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}

const char* cudnnGetErrorString(cudnnStatus_t status) {
  static thread_local std::string text;
  switch (status) {
    case CUDNN_STATUS_SUCCESS:
      text = "CUDNN_STATUS_SUCCESS";
      break;
    case CUDNN_STATUS_BAD_PARAM:
      text = "CUDNN_STATUS_BAD_PARAM";
      break;
    case CUDNN_STATUS_NOT_SUPPORTED:
      text = "CUDNN_STATUS_NOT_SUPPORTED";
      break;
    case CUDNN_STATUS_EXECUTION_FAILED:
      text = "CUDNN_STATUS_EXECUTION_FAILED";
      break;
    default:
      text = "CUDNN_STATUS_" + std::to_string(status);
      break;
  }
  std::lock_guard lock(state().mutex);
  if (status != CUDNN_STATUS_SUCCESS && !detail_of(status).empty())
    text += " [emulated device: " + detail_of(status) + "]";
  return text.c_str();
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) {
  return create(d, "cudnnCreateTensorDescriptor");
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format, cudnnDataType_t type,
                                         int n, int c, int h, int w) {
  if (const auto status = check_4d("cudnnSetTensor4dDescriptor", d, format, type, n, c, h, w)) return status;
  *d = {true, n, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) {
  return create(d, "cudnnCreateFilterDescriptor");
}
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
  if (const auto status = check_4d("cudnnSetFilter4dDescriptor", d, format, type, k, c, h, w)) return status;
  *d = {true, k, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) {
  return create(d, "cudnnCreateConvolutionDescriptor");
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
                                              int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t compute) {
  if (!d) return failed(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolution2dDescriptor: null descriptor");
  if (pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dilation_h <= 0 || dilation_w <= 0)
    return failed(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolution2dDescriptor: padding " + std::to_string(pad_h) + "," +
                                              std::to_string(pad_w) + " must be >= 0, strides " + std::to_string(u) +
                                              "," + std::to_string(v) + " and dilations > 0");
  if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION)
    return failed(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolution2dDescriptor: unknown mode");
  if (compute != CUDNN_DATA_FLOAT)
    return failed(CUDNN_STATUS_NOT_SUPPORTED, "cudnnSetConvolution2dDescriptor: the emulation computes in float only");
  const cudnnMathType_t math = d->math;
  *d = {true, pad_h, pad_w, u, v, dilation_h, dilation_w, mode == CUDNN_CONVOLUTION, math};
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t math) {
  if (!d) return failed(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionMathType: null descriptor");
  if (math != CUDNN_DEFAULT_MATH && math != CUDNN_TENSOR_OP_MATH && math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION &&
      math != CUDNN_FMA_MATH)
    return failed(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionMathType: unknown math type " + std::to_string(math));
  d->math = math;
  return CUDNN_STATUS_SUCCESS;
}

// --- convolutions --------------------------------------------------------------------------------------

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                     const cudnnFilterDescriptor_t w,
                                                     const cudnnConvolutionDescriptor_t conv,
                                                     const cudnnTensorDescriptor_t y, const int requested,
                                                     int* returned, cudnnConvolutionFwdAlgoPerf_t* results) {
  Convolution g{};
  if (const auto s = describe("cudnnGetConvolutionForwardAlgorithm_v7", x, w, conv, y, &g)) return s;
  return rank("cudnnGetConvolutionForwardAlgorithm_v7", Direction::forward, g, requested, returned, results);
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t, const cudnnFilterDescriptor_t w,
                                                          const cudnnTensorDescriptor_t dy,
                                                          const cudnnConvolutionDescriptor_t conv,
                                                          const cudnnTensorDescriptor_t dx, const int requested,
                                                          int* returned, cudnnConvolutionBwdDataAlgoPerf_t* results) {
  Convolution g{};
  if (const auto s = describe("cudnnGetConvolutionBackwardDataAlgorithm_v7", dx, w, conv, dy, &g)) return s;
  return rank("cudnnGetConvolutionBackwardDataAlgorithm_v7", Direction::backward_data, g, requested, returned, results);
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                            const cudnnTensorDescriptor_t dy,
                                                            const cudnnConvolutionDescriptor_t conv,
                                                            const cudnnFilterDescriptor_t dw, const int requested,
                                                            int* returned,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* results) {
  Convolution g{};
  if (const auto s = describe("cudnnGetConvolutionBackwardFilterAlgorithm_v7", x, dw, conv, dy, &g)) return s;
  return rank("cudnnGetConvolutionBackwardFilterAlgorithm_v7", Direction::backward_filter, g, requested, returned,
              results);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                      const cudnnFilterDescriptor_t w,
                                                      const cudnnConvolutionDescriptor_t conv,
                                                      const cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t algo,
                                                      size_t* size) {
  Convolution g{};
  if (const auto s = describe("cudnnGetConvolutionForwardWorkspaceSize", x, w, conv, y, &g)) return s;
  return workspace_query("cudnnGetConvolutionForwardWorkspaceSize", Direction::forward, g, algo, size);
}
cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t, const cudnnFilterDescriptor_t w,
                                                           const cudnnTensorDescriptor_t dy,
                                                           const cudnnConvolutionDescriptor_t conv,
                                                           const cudnnTensorDescriptor_t dx,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t* size) {
  Convolution g{};
  if (const auto s = describe("cudnnGetConvolutionBackwardDataWorkspaceSize", dx, w, conv, dy, &g)) return s;
  return workspace_query("cudnnGetConvolutionBackwardDataWorkspaceSize", Direction::backward_data, g, algo, size);
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                             const cudnnTensorDescriptor_t dy,
                                                             const cudnnConvolutionDescriptor_t conv,
                                                             const cudnnFilterDescriptor_t dw,
                                                             cudnnConvolutionBwdFilterAlgo_t algo, size_t* size) {
  Convolution g{};
  if (const auto s = describe("cudnnGetConvolutionBackwardFilterWorkspaceSize", x, dw, conv, dy, &g)) return s;
  return workspace_query("cudnnGetConvolutionBackwardFilterWorkspaceSize", Direction::backward_filter, g, algo, size);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t x_desc,
                                      const void* x_data, const cudnnFilterDescriptor_t w_desc, const void* w_data,
                                      const cudnnConvolutionDescriptor_t conv, cudnnConvolutionFwdAlgo_t algo,
                                      void* workspace, size_t workspace_size, const void* beta,
                                      const cudnnTensorDescriptor_t y_desc, void* y_data) {
  constexpr const char* call = "cudnnConvolutionForward";
  std::lock_guard lock(state().mutex);
  Convolution g{};
  if (const auto s = describe(call, x_desc, w_desc, conv, y_desc, &g)) return s;
  if (const auto s = check_run(call, Direction::forward, g, algo, workspace, workspace_size, alpha, beta)) return s;
  if (const auto s = check_operand(call, "x", x_data, x_desc->count())) return s;
  if (const auto s = check_operand(call, "w", w_data, w_desc->count())) return s;
  if (const auto s = check_operand(call, "y", y_data, y_desc->count())) return s;
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  const auto* x = static_cast<const float*>(x_data);
  const auto* w = static_cast<const float*>(w_data);
  auto* y = static_cast<float*>(y_data);
  return queue(handle, call, [=] {
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g.n; ++n)
      for (int k = 0; k < g.k; ++k)
        for (int i = 0; i < g.out_h; ++i)
          for (int j = 0; j < g.out_w; ++j) {
            double sum = 0.0;
            for_each_tap(g, n, k, i, j, [&](size_t xi, size_t wi) {
              sum += static_cast<double>(tf32_if(g.tf32(), x[xi])) * tf32_if(g.tf32(), w[wi]);
            });
            blend(y[((static_cast<size_t>(n) * g.k + k) * g.out_h + i) * g.out_w + j], sum, a, b);
          }
  });
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha,
                                           const cudnnFilterDescriptor_t w_desc, const void* w_data,
                                           const cudnnTensorDescriptor_t dy_desc, const void* dy_data,
                                           const cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdDataAlgo_t algo,
                                           void* workspace, size_t workspace_size, const void* beta,
                                           const cudnnTensorDescriptor_t dx_desc, void* dx_data) {
  constexpr const char* call = "cudnnConvolutionBackwardData";
  std::lock_guard lock(state().mutex);
  Convolution g{};
  if (const auto s = describe(call, dx_desc, w_desc, conv, dy_desc, &g)) return s;
  if (const auto s = check_run(call, Direction::backward_data, g, algo, workspace, workspace_size, alpha, beta))
    return s;
  if (const auto s = check_operand(call, "w", w_data, w_desc->count())) return s;
  if (const auto s = check_operand(call, "dy", dy_data, dy_desc->count())) return s;
  if (const auto s = check_operand(call, "dx", dx_data, dx_desc->count())) return s;
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  const auto* w = static_cast<const float*>(w_data);
  const auto* dy = static_cast<const float*>(dy_data);
  auto* dx = static_cast<float*>(dx_data);
  return queue(handle, call, [=] {
    // Every output's gradient goes back to the inputs its taps read (the adjoint of the forward loop).
    const size_t image = static_cast<size_t>(g.c) * g.h * g.w;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < g.n; ++n) {
      std::vector<double> sums(image, 0.0);
      const size_t first = static_cast<size_t>(n) * image;
      for (int k = 0; k < g.k; ++k)
        for (int i = 0; i < g.out_h; ++i)
          for (int j = 0; j < g.out_w; ++j) {
            const double delta =
                tf32_if(g.tf32(), dy[((static_cast<size_t>(n) * g.k + k) * g.out_h + i) * g.out_w + j]);
            for_each_tap(g, n, k, i, j,
                         [&](size_t xi, size_t wi) { sums[xi - first] += delta * tf32_if(g.tf32(), w[wi]); });
          }
      for (size_t v = 0; v < image; ++v) blend(dx[first + v], sums[v], a, b);
    }
  });
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha,
                                             const cudnnTensorDescriptor_t x_desc, const void* x_data,
                                             const cudnnTensorDescriptor_t dy_desc, const void* dy_data,
                                             const cudnnConvolutionDescriptor_t conv,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* workspace,
                                             size_t workspace_size, const void* beta,
                                             const cudnnFilterDescriptor_t dw_desc, void* dw_data) {
  constexpr const char* call = "cudnnConvolutionBackwardFilter";
  std::lock_guard lock(state().mutex);
  Convolution g{};
  if (const auto s = describe(call, x_desc, dw_desc, conv, dy_desc, &g)) return s;
  if (const auto s = check_run(call, Direction::backward_filter, g, algo, workspace, workspace_size, alpha, beta))
    return s;
  if (const auto s = check_operand(call, "x", x_data, x_desc->count())) return s;
  if (const auto s = check_operand(call, "dy", dy_data, dy_desc->count())) return s;
  if (const auto s = check_operand(call, "dw", dw_data, dw_desc->count())) return s;
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  const auto* x = static_cast<const float*>(x_data);
  const auto* dy = static_cast<const float*>(dy_data);
  auto* dw = static_cast<float*>(dw_data);
  return queue(handle, call, [=] {
    // Each output channel's filter gathers, over the batch and the positions, what its taps read.
    const size_t filter = static_cast<size_t>(g.c) * g.r * g.s;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < g.k; ++k) {
      std::vector<double> sums(filter, 0.0);
      const size_t first = static_cast<size_t>(k) * filter;
      for (int n = 0; n < g.n; ++n)
        for (int i = 0; i < g.out_h; ++i)
          for (int j = 0; j < g.out_w; ++j) {
            const double delta =
                tf32_if(g.tf32(), dy[((static_cast<size_t>(n) * g.k + k) * g.out_h + i) * g.out_w + j]);
            for_each_tap(g, n, k, i, j,
                         [&](size_t xi, size_t wi) { sums[wi - first] += delta * tf32_if(g.tf32(), x[xi]); });
          }
      for (size_t v = 0; v < filter; ++v) blend(dw[first + v], sums[v], a, b);
    }
  });
}

// --- pooling ---------------------------------------------------------------------------------------------

cudnnStatus_t cudnnCreatePoolingDescriptor(cudnnPoolingDescriptor_t* d) {
  return create(d, "cudnnCreatePoolingDescriptor");
}
cudnnStatus_t cudnnDestroyPoolingDescriptor(cudnnPoolingDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t d, cudnnPoolingMode_t mode,
                                          cudnnNanPropagation_t nan, int window_h, int window_w, int pad_h, int pad_w,
                                          int stride_h, int stride_w) {
  if (!d) return failed(CUDNN_STATUS_BAD_PARAM, "cudnnSetPooling2dDescriptor: null descriptor");
  if (window_h <= 0 || window_w <= 0 || stride_h <= 0 || stride_w <= 0 || pad_h < 0 || pad_w < 0)
    return failed(CUDNN_STATUS_BAD_PARAM, "cudnnSetPooling2dDescriptor: windows and strides must be > 0, padding >= 0");
  if (mode != CUDNN_POOLING_MAX && mode != CUDNN_POOLING_MAX_DETERMINISTIC &&
      mode != CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING && mode != CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING)
    return failed(CUDNN_STATUS_BAD_PARAM, "cudnnSetPooling2dDescriptor: unknown mode");
  (void)nan;  // NaNs lose every max comparison here, as with CUDNN_NOT_PROPAGATE_NAN
  *d = {true, mode, window_h, window_w, pad_h, pad_w, stride_h, stride_w};
  return CUDNN_STATUS_SUCCESS;
}

namespace {

// The shapes of a pooling call: y must be what cudnnGetPooling2dForwardOutputDim gives for x.
cudnnStatus_t check_pooling(const char* call, cudnnPoolingDescriptor_t p, cudnnTensorDescriptor_t x,
                            cudnnTensorDescriptor_t y) {
  if (!p || !x || !y || !p->set || !x->set || !y->set)
    return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": a descriptor is null or was never set");
  const int out_h = 1 + (x->h + 2 * p->pad_h - p->window_h) / p->stride_h;
  const int out_w = 1 + (x->w + 2 * p->pad_w - p->window_w) / p->stride_w;
  if (y->n != x->n || y->c != x->c || y->h != out_h || y->w != out_w)
    return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": the output descriptor is " +
                                              dims(y->n, y->c, y->h, y->w) + ", pooling gives " +
                                              dims(x->n, x->c, out_h, out_w));
  return CUDNN_STATUS_SUCCESS;
}

// Visits the input positions of output (i, j)'s window that lie inside the image.
template <typename Visit>
void for_window(const cudnnPoolingStruct& p, const cudnnTensorStruct& x, int i, int j, Visit visit) {
  for (int r = 0; r < p.window_h; ++r) {
    const int row = i * p.stride_h - p.pad_h + r;
    if (row < 0 || row >= x.h) continue;
    for (int s = 0; s < p.window_w; ++s) {
      const int col = j * p.stride_w - p.pad_w + s;
      if (col >= 0 && col < x.w) visit(row * x.w + col);
    }
  }
}

int average_count(const cudnnPoolingStruct& p, const cudnnTensorStruct& x, int i, int j) {
  if (p.mode == CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING) return p.window_h * p.window_w;
  int count = 0;
  for_window(p, x, i, j, [&](int) { ++count; });
  return std::max(count, 1);
}

bool is_max(cudnnPoolingMode_t mode) { return mode == CUDNN_POOLING_MAX || mode == CUDNN_POOLING_MAX_DETERMINISTIC; }

}  // namespace

cudnnStatus_t cudnnPoolingForward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t p, const void* alpha,
                                  const cudnnTensorDescriptor_t x_desc, const void* x_data, const void* beta,
                                  const cudnnTensorDescriptor_t y_desc, void* y_data) {
  constexpr const char* call = "cudnnPoolingForward";
  std::lock_guard lock(state().mutex);
  if (const auto s = check_pooling(call, p, x_desc, y_desc)) return s;
  if (!alpha || !beta) return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": null alpha or beta");
  if (const auto s = check_operand(call, "x", x_data, x_desc->count())) return s;
  if (const auto s = check_operand(call, "y", y_data, y_desc->count())) return s;
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  const cudnnPoolingStruct pool = *p;
  const cudnnTensorStruct x = *x_desc, y = *y_desc;
  const auto* in = static_cast<const float*>(x_data);
  auto* out = static_cast<float*>(y_data);
  return queue(handle, call, [=] {
    for (int plane = 0; plane < x.n * x.c; ++plane)
      for (int i = 0; i < y.h; ++i)
        for (int j = 0; j < y.w; ++j) {
          const float* image = in + static_cast<size_t>(plane) * x.h * x.w;
          double value = 0.0;
          if (is_max(pool.mode)) {
            float best = -INFINITY;
            for_window(pool, x, i, j, [&](int at) { best = image[at] > best ? image[at] : best; });
            value = best;
          } else {
            for_window(pool, x, i, j, [&](int at) { value += image[at]; });
            value /= average_count(pool, x, i, j);
          }
          blend(out[(static_cast<size_t>(plane) * y.h + i) * y.w + j], value, a, b);
        }
  });
}

// Max pooling sends each output's gradient to the first input of its window that equals the window's
// maximum (cuDNN does not document its choice among ties); average pooling spreads it evenly.
cudnnStatus_t cudnnPoolingBackward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t p, const void* alpha,
                                   const cudnnTensorDescriptor_t y_desc, const void* y_data,
                                   const cudnnTensorDescriptor_t dy_desc, const void* dy_data,
                                   const cudnnTensorDescriptor_t x_desc, const void* x_data, const void* beta,
                                   const cudnnTensorDescriptor_t dx_desc, void* dx_data) {
  constexpr const char* call = "cudnnPoolingBackward";
  std::lock_guard lock(state().mutex);
  if (const auto s = check_pooling(call, p, x_desc, y_desc)) return s;
  if (const auto s = check_pooling(call, p, dx_desc, dy_desc)) return s;
  if (!alpha || !beta) return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) + ": null alpha or beta");
  if (x_data == dx_data)
    return failed(CUDNN_STATUS_BAD_PARAM, std::string(call) +
                                              ": x and dx are the same memory: x is the forward "
                                              "pass's input, which cuDNN may read while writing dx");
  if (const auto s = check_operand(call, "y", y_data, y_desc->count())) return s;
  if (const auto s = check_operand(call, "dy", dy_data, dy_desc->count())) return s;
  if (const auto s = check_operand(call, "x", x_data, x_desc->count())) return s;
  if (const auto s = check_operand(call, "dx", dx_data, dx_desc->count())) return s;
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  const cudnnPoolingStruct pool = *p;
  const cudnnTensorStruct x = *x_desc, y = *y_desc;
  const auto* in = static_cast<const float*>(x_data);
  const auto* dy = static_cast<const float*>(dy_data);
  auto* dx = static_cast<float*>(dx_data);
  return queue(handle, call, [=] {
    const size_t image_size = static_cast<size_t>(x.h) * x.w;
    std::vector<double> sums(image_size);
    for (int plane = 0; plane < x.n * x.c; ++plane) {
      std::fill(sums.begin(), sums.end(), 0.0);
      const float* image = in + static_cast<size_t>(plane) * image_size;
      for (int i = 0; i < y.h; ++i)
        for (int j = 0; j < y.w; ++j) {
          const double delta = dy[(static_cast<size_t>(plane) * y.h + i) * y.w + j];
          if (is_max(pool.mode)) {
            int best_at = -1;
            for_window(pool, x, i, j, [&](int at) {
              if (best_at < 0 || image[at] > image[best_at]) best_at = at;
            });
            if (best_at >= 0) sums[static_cast<size_t>(best_at)] += delta;
          } else {
            const double share = delta / average_count(pool, x, i, j);
            for_window(pool, x, i, j, [&](int at) { sums[static_cast<size_t>(at)] += share; });
          }
        }
      float* out = dx + static_cast<size_t>(plane) * image_size;
      for (size_t v = 0; v < image_size; ++v) blend(out[v], sums[v], a, b);
    }
  });
}
