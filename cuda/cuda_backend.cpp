// CudaBackend: every Backend operation on one GPU. cuBLAS for dense algebra (FP32; TF32 opt-in),
// cuDNN for convolutions (descriptors and algorithm made once per shape, FMA math unless --tf32, one
// shared workspace) and pooling, and our
// own kernels (cuda/kernels, launched through launchers.hpp) for everything else. All work is queued
// on one stream; only the calls that return a number to the host synchronise.
//
// NOT YET RUN ON A GPU. In CI this file runs whole, every operation and whole training steps, on the
// emulated device (cuda/emulated: the CUDA runtime, cuBLAS and cuDNN on the CPU, with deferred stream
// execution and argument checks); what only a GPU can show is listed in docs/testing.md.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include "bioprop/bias_layout.hpp"
#include "bioprop/device.hpp"
#include "bioprop/device_memory.hpp"
#include "bioprop/distributed.hpp"
#include "bioprop/operand_checks.hpp"
#include "bioprop/projection_checks.hpp"
#include "kernels/launchers.hpp"
#include "library_checks.hpp"
#include "sync_check.hpp"

namespace bioprop {

namespace {

int rows(const Tensor& t) { return t.dim(0); }
int cols(const Tensor& t) { return static_cast<int>(t.shape().sample_size()); }

// Every operand of a CUDA operation must live on the GPU: a host pointer in a kernel would fault the
// device (a sticky error that ends the process) instead of naming the mistake.
void expect_on_gpu(const char* operation, std::initializer_list<const Tensor*> operands) {
  for (const Tensor* t : operands)
    if (t->numel() > 0 && t->device() != Device::cuda)
      fail("CUDA backend {}: an operand of shape {} is on the {}, not the GPU", operation, t->shape().str(),
           to_string(t->device()));
}

// Device memory sized in bytes (size_t: a workspace may pass 2^31 floats), grown on demand.
class DeviceBuffer {
 public:
  void* reserve(size_t bytes) {
    if (bytes > capacity_) {
      storage_.reset();  // back to the pool first, so the larger block may reuse it
      storage_ = cuda_allocate_floats((bytes + sizeof(float) - 1) / sizeof(float));
      capacity_ = bytes;
    }
    return bytes ? storage_.get() : nullptr;
  }

 private:
  std::shared_ptr<float> storage_;
  size_t capacity_ = 0;
};

// Outputs (N, K), one label (or target) per trial, and a gradient of the outputs' size.
void expect_loss_operands(const char* operation, const Tensor& outputs, const Tensor& labels, const Tensor& doutputs) {
  expect_same_size(outputs, doutputs, operation);
  if (labels.numel() != static_cast<size_t>(rows(outputs)))
    fail("{}: {} labels for {} trials", operation, labels.numel(), rows(outputs));
}

// RAII holders for the cuDNN descriptors of one call.
struct TensorDescriptor {
  TensorDescriptor(int n, int c, int h, int w) {
    BIOPROP_CUDNN_CHECK(cudnnCreateTensorDescriptor(&handle));
    BIOPROP_CUDNN_CHECK(cudnnSetTensor4dDescriptor(handle, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
  }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(handle); }
  cudnnTensorDescriptor_t handle{};
};

struct ConvolutionDescriptors {
  ConvolutionDescriptors(const WindowGeometry& g, cudnnMathType_t math)
      : input(g.batch, g.in_channels, g.in_h, g.in_w), output(g.batch, g.out_channels, g.out_h, g.out_w) {
    BIOPROP_CUDNN_CHECK(cudnnCreateFilterDescriptor(&filter));
    BIOPROP_CUDNN_CHECK(cudnnSetFilter4dDescriptor(filter, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g.out_channels,
                                                   g.in_channels, g.kernel_h, g.kernel_w));
    BIOPROP_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&convolution));
    BIOPROP_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(convolution, g.padding, g.padding, g.stride, g.stride, 1, 1,
                                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    BIOPROP_CUDNN_CHECK(cudnnSetConvolutionMathType(convolution, math));
  }
  ~ConvolutionDescriptors() {
    cudnnDestroyFilterDescriptor(filter);
    cudnnDestroyConvolutionDescriptor(convolution);
  }
  TensorDescriptor input, output;
  cudnnFilterDescriptor_t filter{};
  cudnnConvolutionDescriptor_t convolution{};
};

using GeometryKey = std::tuple<int, int, int, int, int, int, int, int, int, int, int>;
GeometryKey key_of(const WindowGeometry& g) {
  return {g.batch, g.in_channels, g.in_h,     g.in_w,   g.out_channels, g.out_h,
          g.out_w, g.kernel_h,    g.kernel_w, g.stride, g.padding};
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(int index, bool tf32) : index_(index), tf32_(tf32) {
    BIOPROP_CUDA_CHECK(cudaSetDevice(index));
    BIOPROP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    set_cuda_work_stream(stream_);  // tensor fills and copies queue behind this backend's kernels
    BIOPROP_CUBLAS_CHECK(cublasCreate(&cublas_));
    BIOPROP_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    BIOPROP_CUBLAS_CHECK(cublasSetMathMode(cublas_, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    BIOPROP_CUDNN_CHECK(cudnnCreate(&cudnn_));
    BIOPROP_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
    BIOPROP_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
    for (int slot = 0; slot < 2; ++slot) {
      BIOPROP_CUDA_CHECK(cudaEventCreateWithFlags(&compute_reached_[slot], cudaEventDisableTiming));
      BIOPROP_CUDA_CHECK(cudaEventCreateWithFlags(&uploaded_[slot], cudaEventDisableTiming));
    }
    name_ = fmt::format("cuda:{} ({}; cuBLAS {}, cuDNN, bioprop kernels)", index, cuda_device_name(index),
                        tf32 ? "TF32" : "FP32");
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(copy_stream_);
    cudaStreamSynchronize(stream_);
    if (cuda_work_stream() == stream_) set_cuda_work_stream(nullptr);
    retire_cuda_work_stream(stream_);  // synchronised: its cached blocks are free for every stream
    for (int slot = 0; slot < 2; ++slot) {
      cudaEventDestroy(compute_reached_[slot]);
      cudaEventDestroy(uploaded_[slot]);
    }
    cudaStreamDestroy(copy_stream_);
    if (nccl_) {
      cudaStreamSynchronize(communication_stream_);
      ncclCommDestroy(nccl_);
      cudaEventDestroy(updates_ready_);
      cudaEventDestroy(sums_done_);
      cudaStreamDestroy(communication_stream_);
    }
    cudnnDestroy(cudnn_);
    cublasDestroy(cublas_);
    cudaStreamDestroy(stream_);
  }

  Device device() const override { return Device::cuda; }
  std::string name() const override { return name_; }

  // The ranks' sums in device memory with NCCL (one GPU per rank), on a communication stream that waits for the
  // work queued so far (the updates being summed) and nothing later: a layer's sum runs while credit assignment
  // goes on below it (issue 17, item 2). finish makes this backend's stream wait for every sum started. The
  // communicator, stream and events are made at the first sum: rank 0's unique id reaches the others through
  // the job.
  void start_all_reduce_sum(const std::vector<Tensor*>& tensors, Communicator& job) override {
    if (job.size() == 1) return;
    if (!nccl_) start_communication(job);
    BIOPROP_CUDA_CHECK(cudaEventRecord(updates_ready_, stream_));
    BIOPROP_CUDA_CHECK(cudaStreamWaitEvent(communication_stream_, updates_ready_, 0));
    BIOPROP_NCCL_CHECK(ncclGroupStart());  // one launch for every tensor of the bucket
    for (Tensor* t : tensors)
      if (!t->empty())
        BIOPROP_NCCL_CHECK(
            ncclAllReduce(t->data(), t->data(), t->numel(), ncclFloat32, ncclSum, nccl_, communication_stream_));
    BIOPROP_NCCL_CHECK(ncclGroupEnd());
    sums_pending_ = true;
  }
  void finish_all_reduce_sums(Communicator&) override {
    if (!sums_pending_) return;
    BIOPROP_CUDA_CHECK(cudaEventRecord(sums_done_, communication_stream_));
    BIOPROP_CUDA_CHECK(cudaStreamWaitEvent(stream_, sums_done_, 0));
    sums_pending_ = false;
  }
  void start_communication(Communicator& job) {
    ncclUniqueId id{};
    if (job.rank() == 0) BIOPROP_NCCL_CHECK(ncclGetUniqueId(&id));
    job.broadcast(&id, sizeof id, 0);
    BIOPROP_NCCL_CHECK(ncclCommInitRank(&nccl_, job.size(), id, job.rank()));
    BIOPROP_CUDA_CHECK(cudaStreamCreateWithFlags(&communication_stream_, cudaStreamNonBlocking));
    BIOPROP_CUDA_CHECK(cudaEventCreateWithFlags(&updates_ready_, cudaEventDisableTiming));
    BIOPROP_CUDA_CHECK(cudaEventCreateWithFlags(&sums_done_, cudaEventDisableTiming));
  }
  std::string all_reduce_path() const override { return "NCCL on device memory"; }
  size_t memory_bytes() const override {
    size_t free_bytes = 0, total_bytes = 0;
    BIOPROP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    return total_bytes;
  }

  void gemm(bool transpose_a, bool transpose_b, float alpha, const Tensor& a, const Tensor& b, float beta,
            Tensor& c) override {
    expect_on_gpu("gemm", {&a, &b, &c});
    const int m = transpose_a ? cols(a) : rows(a), k = transpose_a ? rows(a) : cols(a);
    const int kb = transpose_b ? cols(b) : rows(b), n = transpose_b ? rows(b) : cols(b);
    if (k != kb || rows(c) != m || cols(c) != n)
      fail("gemm: op(a) {}x{}, op(b) {}x{}, c {}x{} do not fit", m, k, kb, n, rows(c), cols(c));
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
    BIOPROP_CUBLAS_CHECK(cublasSgemm(cublas_, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                     transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b.data(), cols(b),
                                     a.data(), cols(a), &beta, c.data(), cols(c)));
  }

  void add_bias(Tensor& y, const Tensor& bias) override {
    expect_on_gpu("add_bias", {&y, &bias});
    const size_t inner = bias_broadcast_inner(y, bias);
    kernels::add_bias(y.data(), bias.data(), inner, bias.numel(), y.numel(), stream_);
  }
  void bias_grad(const Tensor& dy, float beta, Tensor& dbias) override {
    expect_on_gpu("bias_grad", {&dy, &dbias});
    const size_t inner = bias_broadcast_inner(dy, dbias);
    kernels::bias_grad(dy.data(), inner, dbias.numel(), static_cast<size_t>(dy.dim(0)), beta, dbias.data(), stream_);
  }

  void batch_norm_statistics(const Tensor& x, Tensor& mean, Tensor& variance) override {
    expect_on_gpu("batch_norm_statistics", {&x, &mean, &variance});
    expect_shape(variance, mean.shape(), "batch_norm_statistics variance");
    const kernels::ChannelLayout layout = channel_layout(x, mean);
    kernels::batch_norm_statistics(x.data(), layout, mean.data(), variance.data(), batch_norm_workspace(layout),
                                   stream_);
  }
  void batch_norm_forward(const Tensor& x, const Tensor& mean, const Tensor& variance, float epsilon,
                          const Tensor& gamma, const Tensor& beta, Tensor& y) override {
    expect_on_gpu("batch_norm_forward", {&x, &mean, &variance, &gamma, &beta, &y});
    expect_shape(y, x.shape(), "batch_norm_forward output");
    for (const Tensor* t : std::initializer_list<const Tensor*>{&variance, &gamma, &beta})
      expect_shape(*t, mean.shape(), "batch_norm_forward parameters");
    kernels::batch_norm_forward(x.data(), channel_layout(x, mean), mean.data(), variance.data(), epsilon, gamma.data(),
                                beta.data(), y.data(), stream_);
  }
  void batch_norm_sums(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& variance, float epsilon,
                       float accumulate, Tensor& sum_dy_xhat, Tensor& sum_dy) override {
    expect_on_gpu("batch_norm_sums", {&dy, &x, &mean, &variance, &sum_dy_xhat, &sum_dy});
    expect_shape(dy, x.shape(), "batch_norm_sums dy");
    for (const Tensor* t : std::initializer_list<const Tensor*>{&variance, &sum_dy_xhat, &sum_dy})
      expect_shape(*t, mean.shape(), "batch_norm_sums sums");
    const kernels::ChannelLayout layout = channel_layout(x, mean);
    kernels::batch_norm_sums(dy.data(), x.data(), layout, mean.data(), variance.data(), epsilon, accumulate,
                             sum_dy_xhat.data(), sum_dy.data(), batch_norm_workspace(layout), stream_);
  }
  void batch_norm_backward_data(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& variance,
                                float epsilon, const Tensor& gamma, const Tensor& sum_dy_xhat, const Tensor& sum_dy,
                                Tensor& dx) override {
    expect_on_gpu("batch_norm_backward_data", {&dy, &x, &mean, &variance, &gamma, &sum_dy_xhat, &sum_dy, &dx});
    expect_shape(dx, x.shape(), "batch_norm_backward_data dx");
    expect_shape(dy, x.shape(), "batch_norm_backward_data dy");
    kernels::batch_norm_backward_data(dy.data(), x.data(), channel_layout(x, mean), mean.data(), variance.data(),
                                      epsilon, gamma.data(), sum_dy_xhat.data(), sum_dy.data(), dx.data(), stream_);
  }

  void conv2d_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) override {
    expect_on_gpu("conv2d_forward", {&x, &weights, &y});
    expect_window_shapes("conv2d_forward", g, x, y, &weights, conv_filter_shape(g));
    ConvolutionPlan& plan = plan_for(g);
    const ConvolutionDescriptors& d = plan.descriptors;
    const float one = 1.0f, zero = 0.0f;
    run_convolution<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT>(
        plan, plan.forward, g, "forward",
        [&](cudnnConvolutionFwdAlgoPerf_t* results, int* count) {
          return cudnnGetConvolutionForwardAlgorithm_v7(cudnn_, d.input.handle, d.filter, d.convolution,
                                                        d.output.handle, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, count,
                                                        results);
        },
        [&](cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
          return cudnnGetConvolutionForwardWorkspaceSize(cudnn_, d.input.handle, d.filter, d.convolution,
                                                         d.output.handle, algo, bytes);
        },
        [&](cudnnConvolutionFwdAlgo_t algo, void* workspace, size_t bytes) {
          return cudnnConvolutionForward(cudnn_, &one, d.input.handle, x.data(), d.filter, weights.data(),
                                         d.convolution, algo, workspace, bytes, &zero, d.output.handle, y.data());
        });
  }
  void conv2d_backward_data(const Tensor& dy, const Tensor& weights, Tensor& dx, const WindowGeometry& g) override {
    expect_on_gpu("conv2d_backward_data", {&dy, &weights, &dx});
    expect_window_shapes("conv2d_backward_data", g, dx, dy, &weights, conv_filter_shape(g));
    ConvolutionPlan& plan = plan_for(g);
    const ConvolutionDescriptors& d = plan.descriptors;
    const float one = 1.0f, zero = 0.0f;
    run_convolution<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT>(
        plan, plan.backward_data, g, "backward-data",
        [&](cudnnConvolutionBwdDataAlgoPerf_t* results, int* count) {
          return cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnn_, d.filter, d.output.handle, d.convolution,
                                                             d.input.handle, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                             count, results);
        },
        [&](cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
          return cudnnGetConvolutionBackwardDataWorkspaceSize(cudnn_, d.filter, d.output.handle, d.convolution,
                                                              d.input.handle, algo, bytes);
        },
        [&](cudnnConvolutionBwdDataAlgo_t algo, void* workspace, size_t bytes) {
          return cudnnConvolutionBackwardData(cudnn_, &one, d.filter, weights.data(), d.output.handle, dy.data(),
                                              d.convolution, algo, workspace, bytes, &zero, d.input.handle, dx.data());
        });
  }
  void conv2d_backward_filter(const Tensor& dy, const Tensor& x, float beta, Tensor& dweights,
                              const WindowGeometry& g) override {
    expect_on_gpu("conv2d_backward_filter", {&dy, &x, &dweights});
    expect_window_shapes("conv2d_backward_filter", g, x, dy, &dweights, conv_filter_shape(g));
    ConvolutionPlan& plan = plan_for(g);
    const ConvolutionDescriptors& d = plan.descriptors;
    const float one = 1.0f;
    run_convolution<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT>(
        plan, plan.backward_filter, g, "backward-filter",
        [&](cudnnConvolutionBwdFilterAlgoPerf_t* results, int* count) {
          return cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn_, d.input.handle, d.output.handle, d.convolution,
                                                               d.filter, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, count,
                                                               results);
        },
        [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
          return cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnn_, d.input.handle, d.output.handle, d.convolution,
                                                                d.filter, algo, bytes);
        },
        [&](cudnnConvolutionBwdFilterAlgo_t algo, void* workspace, size_t bytes) {
          return cudnnConvolutionBackwardFilter(cudnn_, &one, d.input.handle, x.data(), d.output.handle, dy.data(),
                                                d.convolution, algo, workspace, bytes, &beta, d.filter,
                                                dweights.data());
        });
  }

  void locally_connected_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) override {
    expect_on_gpu("locally_connected_forward", {&x, &weights, &y});
    expect_window_shapes("locally_connected_forward", g, x, y, &weights, lc_weight_shape(g));
    kernels::locally_connected_forward(x.data(), weights.data(), y.data(), g, stream_, kernels::lc_max_position_blocks);
  }
  void locally_connected_backward_data(const Tensor& dy, const Tensor& weights, Tensor& dx,
                                       const WindowGeometry& g) override {
    expect_on_gpu("locally_connected_backward_data", {&dy, &weights, &dx});
    expect_window_shapes("locally_connected_backward_data", g, dx, dy, &weights, lc_weight_shape(g));
    kernels::locally_connected_backward_data(dy.data(), weights.data(), dx.data(), g, stream_);
  }
  void locally_connected_backward_weight(const Tensor& dy, const Tensor& x, float beta, Tensor& dweights,
                                         const WindowGeometry& g) override {
    expect_on_gpu("locally_connected_backward_weight", {&dy, &x, &dweights});
    expect_window_shapes("locally_connected_backward_weight", g, x, dy, &dweights, lc_weight_shape(g));
    kernels::locally_connected_backward_weight(dy.data(), x.data(), nullptr, 1.0f, beta, dweights.data(), g, stream_,
                                               kernels::lc_max_position_blocks);
  }

  void max_pool_forward(const Tensor& x, Tensor& y, const WindowGeometry& g) override {
    expect_on_gpu("max_pool_forward", {&x, &y});
    expect_window_shapes("max_pool_forward", g, x, y);
    pool_forward(CUDNN_POOLING_MAX, x, y, g);
  }
  void max_pool_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const WindowGeometry& g) override {
    expect_on_gpu("max_pool_backward", {&x, &dy, &dx});
    expect_window_shapes("max_pool_backward", g, dx, dy);
    expect_shape(x, dx.shape(), "max_pool_backward input");
    // cuDNN's max-pool backward wants the forward output too; recompute it into scratch.
    pool_output_.resize(dy.shape(), Device::cuda);
    pool_forward(CUDNN_POOLING_MAX, x, pool_output_, g);
    pool_backward(CUDNN_POOLING_MAX, x, pool_output_, dy, dx, g);
  }
  void avg_pool_forward(const Tensor& x, Tensor& y, const WindowGeometry& g) override {
    expect_on_gpu("avg_pool_forward", {&x, &y});
    expect_window_shapes("avg_pool_forward", g, x, y);
    pool_forward(CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, x, y, g);
  }
  void avg_pool_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const WindowGeometry& g) override {
    expect_on_gpu("avg_pool_backward", {&x, &dy, &dx});
    expect_window_shapes("avg_pool_backward", g, dx, dy);
    expect_shape(x, dx.shape(), "avg_pool_backward input");
    // Average pooling's gradient reads neither x nor y, but cuDNN takes both: the real input, and dy in
    // y's place (same shape). Never dx as x: cuDNN may read x while it writes dx.
    pool_backward(CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, x, dy, dy, dx, g);
  }

  void activation_forward(Activation f, const Tensor& a, Tensor& h) override {
    expect_on_gpu("activation_forward", {&a, &h});
    expect_same_size(a, h, "activation_forward");
    kernels::activation_forward(f, a.data(), h.data(), a.numel(), stream_);
  }
  void activation_backward(Activation f, const Tensor& a, const Tensor& h, const Tensor& dh, Tensor& da) override {
    expect_on_gpu("activation_backward", {&a, &h, &dh, &da});
    for (const Tensor* t : std::initializer_list<const Tensor*>{&h, &dh, &da})
      expect_same_size(a, *t, "activation_backward");
    kernels::activation_backward(f, a.data(), h.data(), dh.data(), da.data(), a.numel(), stream_);
  }
  void fill(Tensor& x, float value) override {
    expect_on_gpu("fill", {&x});
    if (value == 0.0f)
      BIOPROP_CUDA_CHECK(cudaMemsetAsync(x.data(), 0, x.numel() * sizeof(float), stream_));
    else
      kernels::fill(x.data(), value, x.numel(), stream_);
  }
  void copy(const Tensor& from, Tensor& to) override {
    expect_on_gpu("copy", {&from, &to});
    if (from.numel() != to.numel()) fail("copy: sizes differ, {} vs {}", from.shape().str(), to.shape().str());
    BIOPROP_CUDA_CHECK(
        cudaMemcpyAsync(to.data(), from.data(), from.numel() * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
  }
  void axpy(float alpha, const Tensor& x, Tensor& y) override {
    expect_on_gpu("axpy", {&x, &y});
    expect_same_size(x, y, "axpy");
    BIOPROP_CUBLAS_CHECK(cublasSaxpy(cublas_, static_cast<int>(x.numel()), &alpha, x.data(), 1, y.data(), 1));
  }
  void scale(float alpha, Tensor& x) override {
    expect_on_gpu("scale", {&x});
    BIOPROP_CUBLAS_CHECK(cublasSscal(cublas_, static_cast<int>(x.numel()), &alpha, x.data(), 1));
  }
  void multiply_by_noise(Tensor& x, float stddev, uint64_t seed, uint64_t offset) override {
    expect_on_gpu("multiply_by_noise", {&x});
    kernels::multiply_by_noise(x.data(), x.numel(), stddev, seed, offset, stream_);
  }
  void dropout_mask(Tensor& mask, float rate, uint64_t seed, uint64_t offset, uint64_t first = 0) override {
    expect_on_gpu("dropout_mask", {&mask});
    kernels::dropout_mask(mask.data(), mask.numel(), rate, seed, offset, first, stream_);
  }
  void linear_combination(float alpha, const Tensor& x, float beta, const Tensor& y, float gamma, const Tensor& z,
                          Tensor& out) override {
    expect_on_gpu("linear_combination", {&x, &y, &z, &out});
    for (const Tensor* t : {&y, &z, static_cast<const Tensor*>(&out)}) expect_same_size(x, *t, "linear_combination");
    kernels::linear_combination(alpha, x.data(), beta, y.data(), gamma, z.data(), out.data(), x.numel(), stream_);
  }
  void multiply(const Tensor& a, const Tensor& b, Tensor& out) override {
    expect_on_gpu("multiply", {&a, &b, &out});
    expect_same_size(a, b, "multiply");
    expect_same_size(a, out, "multiply");
    kernels::multiply(a.data(), b.data(), out.data(), a.numel(), stream_);
  }
  void clamp_to_signs(Tensor& w, const Tensor& signs) override {
    expect_on_gpu("clamp_to_signs", {&w, &signs});
    expect_same_size(w, signs, "clamp_to_signs");
    kernels::clamp_to_signs(w.data(), signs.data(), w.numel(), stream_);
  }
  void sign(const Tensor& x, float scale_value, Tensor& out) override {
    expect_on_gpu("sign", {&x, &out});
    expect_same_size(x, out, "sign");
    kernels::sign(x.data(), scale_value, out.data(), x.numel(), stream_);
  }
  double sum_of_squares(const Tensor& x) override {
    expect_on_gpu("sum_of_squares", {&x});
    return reduce(kernels::Reduction::sum_of_squares, x, nullptr);
  }
  double dot(const Tensor& a, const Tensor& b) override {
    expect_on_gpu("dot", {&a, &b});
    expect_same_size(a, b, "dot");
    return reduce(kernels::Reduction::dot, a, &b);
  }
  void project_feedback(const Tensor& e, const Tensor& projection,
                        const std::vector<ProjectionSlice>& slices) override {
    expect_on_gpu("project_feedback", {&e, &projection});
    check_projection_slices(e, projection, slices);
    std::vector<kernels::ProjectionTarget> targets;
    for (const ProjectionSlice& s : slices)
      targets.push_back({s.first_column, cols(*s.out), s.out->data(), s.derivative ? s.pre->data() : nullptr,
                         s.derivative ? s.post->data() : nullptr, s.derivative, s.f});
    kernels::feedback_projection(e.data(), projection.data(), rows(e), cols(e), cols(projection), targets.data(),
                                 static_cast<int>(targets.size()), stream_);
  }
  void random_uniform(Tensor& x, float low, float high, uint64_t seed, uint64_t offset) override {
    expect_on_gpu("random_uniform", {&x});
    kernels::random_uniform(x.data(), x.numel(), low, high, seed, offset, stream_);
  }
  void random_normal(Tensor& x, float mean, float stddev, uint64_t seed, uint64_t offset, uint64_t first = 0) override {
    expect_on_gpu("random_normal", {&x});
    kernels::random_normal(x.data(), x.numel(), mean, stddev, seed, offset, first, stream_);
  }

  float softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& dlogits) override {
    expect_on_gpu("softmax_cross_entropy", {&logits, &labels, &dlogits});
    expect_loss_operands("softmax_cross_entropy", logits, labels, dlogits);
    return output_loss(kernels::OutputLoss::cross_entropy, logits, labels, dlogits);
  }
  float mean_squared_error(const Tensor& outputs, const Tensor& labels, Tensor& doutputs) override {
    expect_on_gpu("mean_squared_error", {&outputs, &labels, &doutputs});
    expect_loss_operands("mean_squared_error", outputs, labels, doutputs);
    return output_loss(kernels::OutputLoss::mean_squared_error, outputs, labels, doutputs);
  }
  float regression_error(const Tensor& outputs, const Tensor& targets, Tensor& doutputs) override {
    expect_on_gpu("regression_error", {&outputs, &targets, &doutputs});
    expect_loss_operands("regression_error", outputs, targets, doutputs);
    if (cols(outputs) != 1)
      fail("regression_error: outputs {}: a regression net has one output", outputs.shape().str());
    return output_loss(kernels::OutputLoss::regression, outputs, targets, doutputs);
  }
  // The loss and the correct-answer count from one kernel and one synchronisation.
  ScoredLoss scored_softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& dlogits) override {
    expect_on_gpu("scored_softmax_cross_entropy", {&logits, &labels, &dlogits});
    expect_loss_operands("scored_softmax_cross_entropy", logits, labels, dlogits);
    return scored_output_loss(kernels::OutputLoss::cross_entropy, logits, labels, dlogits);
  }
  ScoredLoss scored_mean_squared_error(const Tensor& outputs, const Tensor& labels, Tensor& doutputs) override {
    expect_on_gpu("scored_mean_squared_error", {&outputs, &labels, &doutputs});
    expect_loss_operands("scored_mean_squared_error", outputs, labels, doutputs);
    return scored_output_loss(kernels::OutputLoss::mean_squared_error, outputs, labels, doutputs);
  }
  // Only the correct-answer flags and their sum: one pass, one synchronisation.
  void trial_losses(Tensor& losses) override {  // row_loss_: the per-row losses of the last loss kernel
    losses.resize(row_loss_.shape(), Device::cuda);
    copy(row_loss_, losses);
  }
  int count_correct(const Tensor& outputs, const Tensor& labels) override {
    expect_on_gpu("count_correct", {&outputs, &labels});
    if (labels.numel() != static_cast<size_t>(rows(outputs)))
      fail("count_correct: {} labels for {} trials", labels.numel(), rows(outputs));
    const int batch = rows(outputs);
    correct_.resize({batch}, Device::cuda);
    kernels::output_loss(kernels::OutputLoss::accuracy_only, outputs.data(), labels.data(), batch, cols(outputs),
                         nullptr, nullptr, correct_.data(), stream_);
    return static_cast<int>(reduce(kernels::Reduction::sum, correct_, nullptr) + 0.5);
  }

  void attention_gate(const Tensor& q, const Tensor& labels, const ExplorationPolicy& policy, uint64_t seed,
                      uint64_t offset, GateOutputs& out, Tensor& tags, uint64_t first_trial = 0) override {
    expect_on_gpu("attention_gate", {&q, &labels, &tags});
    if (labels.numel() != static_cast<size_t>(rows(q)))
      fail("attention_gate: {} labels for {} trials", labels.numel(), rows(q));
    if (!(policy.temperature > 0.0f)) fail("attention_gate: temperature must be > 0, got {}", policy.temperature);
    expect_shape(tags, q.shape(), "attention_gate tags");
    const int batch = rows(q);
    for (Tensor* t : {&out.actions, &out.rewards, &out.rpe, &out.greedy_correct}) t->resize({batch}, Device::cuda);
    kernels::attention_gate(q.data(), labels.data(), batch, cols(q), policy, seed, offset, first_trial,
                            out.actions.data(), out.rewards.data(), out.rpe.data(), out.greedy_correct.data(),
                            tags.data(), stream_);
  }
  ScoredLoss score_gate(const GateOutputs& gate) override {
    expect_on_gpu("score_gate", {&gate.rpe, &gate.greedy_correct});
    expect_same_size(gate.rpe, gate.greedy_correct, "score_gate");
    const std::vector<double> sums = reduce_sums({{kernels::Reduction::sum_of_squares, &gate.rpe, nullptr},
                                                  {kernels::Reduction::sum, &gate.greedy_correct, nullptr}});
    const double trials = static_cast<double>(std::max<size_t>(gate.rpe.numel(), 1));
    return {static_cast<float>(0.5 * sums[0] / trials), static_cast<int>(sums[1] + 0.5)};
  }
  void scale_samples(const Tensor& x, const Tensor& scale_values, float alpha, Tensor& out) override {
    expect_on_gpu("scale_samples", {&x, &scale_values, &out});
    if (scale_values.numel() != static_cast<size_t>(rows(x)))
      fail("scale_samples: {} scales for {} samples", scale_values.numel(), rows(x));
    expect_same_size(x, out, "scale_samples");
    kernels::scale_samples(x.data(), scale_values.data(), alpha, out.data(), static_cast<size_t>(rows(x)),
                           x.shape().sample_size(), stream_);
  }

  void dense_three_factor_update(const Tensor& tags, const Tensor& pre, const Tensor& modulator, float alpha,
                                 float beta, Tensor& dweights) override {
    expect_on_gpu("dense_three_factor_update", {&tags, &pre, &modulator, &dweights});
    const int batch = rows(tags), outputs = cols(tags), inputs = cols(pre);
    if (rows(pre) != batch || modulator.numel() != static_cast<size_t>(batch) || rows(dweights) != outputs ||
        cols(dweights) != inputs)
      fail("dense_three_factor_update: tags {}, pre {}, modulator {}, dW {} do not fit", tags.shape().str(),
           pre.shape().str(), modulator.shape().str(), dweights.shape().str());
    kernels::dense_three_factor_update(tags.data(), pre.data(), modulator.data(), alpha, beta, dweights.data(), batch,
                                       outputs, inputs, stream_);
  }
  void locally_connected_three_factor_update(const Tensor& tags, const Tensor& pre, const Tensor& modulator,
                                             float alpha, float beta, Tensor& dweights,
                                             const WindowGeometry& g) override {
    expect_on_gpu("locally_connected_three_factor_update", {&tags, &pre, &modulator, &dweights});
    if (modulator.numel() != static_cast<size_t>(g.batch))
      fail("locally_connected_three_factor_update: {} modulators for {} trials", modulator.numel(), g.batch);
    kernels::locally_connected_backward_weight(tags.data(), pre.data(), modulator.data(), alpha, beta, dweights.data(),
                                               g, stream_, kernels::lc_max_position_blocks);
  }
  void dendrite_step(const DendriteStep& step) override {
    const DendriteArrays arrays = dendrite_arrays(step);
    expect_on_gpu("dendrite_step", {step.drive, step.psp});
    for (const Tensor* t :
         {step.drive_bias, step.apical, step.apical_bias, step.labels, static_cast<const Tensor*>(step.soma),
          static_cast<const Tensor*>(step.trace_fast), static_cast<const Tensor*>(step.trace_slow),
          static_cast<const Tensor*>(step.soma_sum), static_cast<const Tensor*>(step.apical_sum),
          static_cast<const Tensor*>(step.rate_sum), static_cast<const Tensor*>(step.psp_sum)})
      if (t) expect_on_gpu("dendrite_step", {t});
    kernels::dendrite_step(arrays, step.drive->numel(), step.seed, step.offset, step.first, stream_);
  }

  void sgd_step(Tensor& weights, const Tensor& grad, Tensor& velocity, const SgdSettings& s) override {
    expect_on_gpu("sgd_step", {&weights, &grad, &velocity});
    expect_same_size(weights, grad, "sgd_step");
    expect_same_size(weights, velocity, "sgd_step");
    kernels::sgd_step(weights.data(), grad.data(), velocity.data(), s, weights.numel(), stream_);
  }
  void adam_step(Tensor& weights, const Tensor& grad, Tensor& first_moment, Tensor& second_moment,
                 const AdamSettings& s, int step) override {
    expect_on_gpu("adam_step", {&weights, &grad, &first_moment, &second_moment});
    for (const Tensor* t : std::initializer_list<const Tensor*>{&grad, &first_moment, &second_moment})
      expect_same_size(weights, *t, "adam_step");
    kernels::adam_step(weights.data(), grad.data(), first_moment.data(), second_moment.data(), s, step, weights.numel(),
                       stream_);
  }

  Tensor to_device(const Tensor& host) override {
    if (host.device() == Device::cuda) return host;
    Tensor on_device(host.shape(), Device::cuda);
    BIOPROP_CUDA_CHECK(
        cudaMemcpyAsync(on_device.data(), host.data(), host.numel() * sizeof(float), cudaMemcpyHostToDevice, stream_));
    BIOPROP_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the host buffer may be reused at once
    return on_device;
  }
  Tensor to_host(const Tensor& on_device) override {
    if (on_device.device() == Device::cpu) return on_device;
    Tensor host(on_device.shape());
    BIOPROP_CUDA_CHECK(cudaMemcpyAsync(host.data(), on_device.data(), on_device.numel() * sizeof(float),
                                       cudaMemcpyDeviceToHost, stream_));
    BIOPROP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return host;
  }
  void synchronize() override { BIOPROP_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  // The copy stream waits (on the device) for the compute work queued so far, copies, and marks the
  // slot's event; the compute stream waits for that event only when the batch is used. No device-wide
  // synchronisation: the host blocks only in wait_upload_read, on one copy.
  // Pinned staging when the driver grants it; otherwise pageable memory still works (the copies then
  // stage through the driver and no longer overlap fully), with a warning.
  Tensor staging_tensor(const Shape& shape) override {
    try {
      return Tensor::pinned_host(shape);
    } catch (const Error& e) {
      spdlog::warn("{}; batches are staged in pageable memory (slower uploads)", e.what());
      return Tensor(shape);
    }
  }
  void upload_async(const Tensor& host, Tensor& on_device, int slot) override {
    if (host.numel() != on_device.numel() || on_device.device() != Device::cuda)
      fail("upload_async: {} into the {} tensor {}", host.shape().str(), to_string(on_device.device()),
           on_device.shape().str());
    const size_t s = upload_slot(slot);
    BIOPROP_CUDA_CHECK(cudaEventRecord(compute_reached_[s], stream_));
    BIOPROP_CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, compute_reached_[s], 0));
    BIOPROP_CUDA_CHECK(cudaMemcpyAsync(on_device.data(), host.data(), host.numel() * sizeof(float),
                                       cudaMemcpyHostToDevice, copy_stream_));
    BIOPROP_CUDA_CHECK(cudaEventRecord(uploaded_[s], copy_stream_));
  }
  void use_upload(int slot) override {
    BIOPROP_CUDA_CHECK(cudaStreamWaitEvent(stream_, uploaded_[upload_slot(slot)], 0));
  }
  void wait_upload_read(int slot) override { BIOPROP_CUDA_CHECK(cudaEventSynchronize(uploaded_[upload_slot(slot)])); }

 private:
  template <typename Algorithm>
  struct Choice {
    Algorithm algo{};
    size_t memory = 0;
    cudnnMathType_t math = CUDNN_FMA_MATH;
  };
  // Descriptors and algorithms of one convolution shape, made once, so the training loop creates no
  // cuDNN descriptors and runs no heuristics.
  struct ConvolutionPlan {
    ConvolutionPlan(const WindowGeometry& g, cudnnMathType_t math) : descriptors(g, math) {}
    ConvolutionDescriptors descriptors;
    std::optional<Choice<cudnnConvolutionFwdAlgo_t>> forward;
    std::optional<Choice<cudnnConvolutionBwdDataAlgo_t>> backward_data;
    std::optional<Choice<cudnnConvolutionBwdFilterAlgo_t>> backward_filter;
  };
  ConvolutionPlan& plan_for(const WindowGeometry& g) {
    std::unique_ptr<ConvolutionPlan>& plan = plans_[key_of(g)];
    if (!plan) plan = std::make_unique<ConvolutionPlan>(g, tf32_ ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
    return *plan;
  }
  // The candidates of cuDNN's ranking in the order bioprop tries them. FP32 by default: cuDNN's default
  // math lets FP32 convolutions use TF32 tensor cores on Ampere and later, so without --tf32 the
  // algorithms ranked for FMA math come first, then the others that do not need tensor cores, all run
  // with FMA math. With --tf32: cuDNN's order and math types.
  template <typename Algorithm, typename Perf>
  std::vector<Choice<Algorithm>> candidates(const Perf* results, int count) const {
    std::vector<Choice<Algorithm>> ordered;
    for (bool fma_only : {!tf32_, false})
      for (int i = 0; i < count; ++i) {
        const cudnnMathType_t math = results[i].mathType;
        const bool tensor_cores = math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
        if (results[i].status != CUDNN_STATUS_SUCCESS || (!tf32_ && (fma_only ? math != CUDNN_FMA_MATH : tensor_cores)))
          continue;
        const Choice<Algorithm> choice{results[i].algo, 0, tf32_ ? math : CUDNN_FMA_MATH};
        const bool seen = std::any_of(ordered.begin(), ordered.end(), [&](const Choice<Algorithm>& c) {
          return c.algo == choice.algo && c.math == choice.math;
        });
        if (!seen) ordered.push_back(choice);
      }
    return ordered;
  }

  // Runs a convolution with the algorithm kept for its shape, or finds that algorithm: the first
  // candidate whose workspace (queried for the algorithm and math type that will run) fits under the
  // cap, can be allocated, and that cuDNN then runs. Out of memory and "not supported" move on to the
  // next candidate; other errors stop.
  template <typename Perf, int Count, typename Algorithm, typename Rank, typename WorkspaceSize, typename Run>
  void run_convolution(ConvolutionPlan& plan, std::optional<Choice<Algorithm>>& slot, const WindowGeometry& g,
                       const char* what, Rank rank, WorkspaceSize workspace_size, Run run) {
    const cudnnConvolutionDescriptor_t convolution = plan.descriptors.convolution;
    if (slot) {
      BIOPROP_CUDNN_CHECK(cudnnSetConvolutionMathType(convolution, slot->math));
      BIOPROP_CUDNN_CHECK(run(slot->algo, workspace_.reserve(slot->memory), slot->memory));
      return;
    }
    Perf results[Count];
    int count = 0;
    BIOPROP_CUDNN_CHECK(rank(results, &count));
    const size_t cap = workspace_cap();
    std::string tried;
    for (const Choice<Algorithm>& candidate : candidates<Algorithm>(results, count)) {
      BIOPROP_CUDNN_CHECK(cudnnSetConvolutionMathType(convolution, candidate.math));
      size_t bytes = 0;
      cudnnStatus_t status = workspace_size(candidate.algo, &bytes);
      if (status == CUDNN_STATUS_SUCCESS && bytes > cap) {
        tried += fmt::format("; algorithm {} needs {} bytes of workspace, over the cap of {}",
                             static_cast<int>(candidate.algo), bytes, cap);
        continue;
      }
      if (status == CUDNN_STATUS_SUCCESS) {
        void* memory = nullptr;
        try {
          memory = workspace_.reserve(bytes);
        } catch (const Error& e) {
          tried += fmt::format("; algorithm {}: {}", static_cast<int>(candidate.algo), e.what());
          continue;
        }
        status = run(candidate.algo, memory, bytes);
      }
      if (status == CUDNN_STATUS_SUCCESS) {
        slot = Choice<Algorithm>{candidate.algo, bytes, candidate.math};
        check_after_library_call(what, __FILE__, __LINE__);
        return;
      }
      const bool try_next = status / 1000 == CUDNN_STATUS_NOT_SUPPORTED / 1000 ||
                            status == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED ||
                            status == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
      if (!try_next)
        fail("cuDNN {} convolution (algorithm {}) for {}x{}x{} inputs: {}", what, static_cast<int>(candidate.algo),
             g.in_channels, g.in_h, g.in_w, cudnnGetErrorString(status));
      tried += fmt::format("; algorithm {}: {}", static_cast<int>(candidate.algo), cudnnGetErrorString(status));
    }
    fail("cuDNN has no usable {} convolution algorithm for {}x{}x{} inputs{}", what, g.in_channels, g.in_h, g.in_w,
         tried);
  }

  // A convolution's workspace may take at most half the free device memory, and never more than
  // 1 GiB: a faster algorithm is not worth starving the activations.
  static size_t workspace_cap() {
    size_t free_bytes = 0, total_bytes = 0;
    BIOPROP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    return std::min<size_t>(size_t{1} << 30, free_bytes / 2);
  }

  static kernels::ChannelLayout channel_layout(const Tensor& x, const Tensor& per_channel) {
    return {bias_broadcast_inner(x, per_channel), per_channel.numel(), static_cast<size_t>(x.dim(0))};
  }
  // Device doubles for batch norm's partial sums; grows to the largest request.
  double* batch_norm_workspace(const kernels::ChannelLayout& layout) {
    const size_t floats = 2 * kernels::batch_norm_workspace(layout);
    if (floats > batch_norm_partials_.numel()) batch_norm_partials_.resize({static_cast<int>(floats)}, Device::cuda);
    return reinterpret_cast<double*>(batch_norm_partials_.data());
  }

  void pool_forward(cudnnPoolingMode_t mode, const Tensor& x, Tensor& y, const WindowGeometry& g) {
    TensorDescriptor in(g.batch, g.in_channels, g.in_h, g.in_w), out(g.batch, g.in_channels, g.out_h, g.out_w);
    cudnnPoolingDescriptor_t pooling{};
    BIOPROP_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pooling));
    BIOPROP_CUDNN_CHECK(cudnnSetPooling2dDescriptor(pooling, mode, CUDNN_NOT_PROPAGATE_NAN, g.kernel_h, g.kernel_w, 0,
                                                    0, g.stride, g.stride));
    const float one = 1.0f, zero = 0.0f;
    const cudnnStatus_t status =
        cudnnPoolingForward(cudnn_, pooling, &one, in.handle, x.data(), &zero, out.handle, y.data());
    cudnnDestroyPoolingDescriptor(pooling);
    BIOPROP_CUDNN_CHECK(status);
  }
  void pool_backward(cudnnPoolingMode_t mode, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                     const WindowGeometry& g) {
    TensorDescriptor in(g.batch, g.in_channels, g.in_h, g.in_w), out(g.batch, g.in_channels, g.out_h, g.out_w);
    cudnnPoolingDescriptor_t pooling{};
    BIOPROP_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pooling));
    BIOPROP_CUDNN_CHECK(cudnnSetPooling2dDescriptor(pooling, mode, CUDNN_NOT_PROPAGATE_NAN, g.kernel_h, g.kernel_w, 0,
                                                    0, g.stride, g.stride));
    const float one = 1.0f, zero = 0.0f;
    const cudnnStatus_t status = cudnnPoolingBackward(cudnn_, pooling, &one, out.handle, y.data(), out.handle,
                                                      dy.data(), in.handle, x.data(), &zero, in.handle, dx.data());
    cudnnDestroyPoolingDescriptor(pooling);
    BIOPROP_CUDNN_CHECK(status);
  }

  double reduce(kernels::Reduction kind, const Tensor& a, const Tensor* b) { return reduce_sums({{kind, &a, b}})[0]; }
  // Each reduction in its own part of the workspace, their results copied back after one
  // synchronisation.
  struct ReductionRequest {
    kernels::Reduction kind;
    const Tensor* a;
    const Tensor* b;
  };
  std::vector<double> reduce_sums(const std::vector<ReductionRequest>& requests) {
    size_t doubles = 0;
    for (const ReductionRequest& r : requests) doubles += kernels::reduce_blocks(r.a->numel()) + 1;
    reduction_.resize({static_cast<int>(2 * doubles)}, Device::cuda);  // doubles in float storage
    double* workspace = reinterpret_cast<double*>(reduction_.data());
    // The sums come back through pinned memory: a copy into pageable memory is synchronous, and
    // staging through the driver costs more than the few bytes it moves.
    if (pinned_results_.numel() < 2 * requests.size())
      pinned_results_ = staging_tensor(Shape{static_cast<int>(2 * requests.size())});
    double* landing = reinterpret_cast<double*>(pinned_results_.data());
    for (size_t i = 0; i < requests.size(); ++i) {
      const ReductionRequest& r = requests[i];
      const unsigned blocks = kernels::reduce_blocks(r.a->numel());
      kernels::reduce(r.kind, r.a->data(), r.b ? r.b->data() : nullptr, r.a->numel(), workspace, stream_);
      BIOPROP_CUDA_CHECK(
          cudaMemcpyAsync(landing + i, workspace + blocks, sizeof(double), cudaMemcpyDeviceToHost, stream_));
      workspace += blocks + 1;
    }
    BIOPROP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return std::vector<double>(landing, landing + requests.size());
  }

  // The loss kernel writes each trial's loss and correct-answer flag; the sums follow.
  int run_output_loss(kernels::OutputLoss kind, const Tensor& outputs, const Tensor& labels, Tensor& doutputs) {
    const int batch = rows(outputs);
    row_loss_.resize({batch}, Device::cuda);
    correct_.resize({batch}, Device::cuda);
    kernels::output_loss(kind, outputs.data(), labels.data(), batch, cols(outputs), doutputs.data(), row_loss_.data(),
                         correct_.data(), stream_);
    return batch;
  }
  float output_loss(kernels::OutputLoss kind, const Tensor& outputs, const Tensor& labels, Tensor& doutputs) {
    const int batch = run_output_loss(kind, outputs, labels, doutputs);
    return static_cast<float>(reduce(kernels::Reduction::sum, row_loss_, nullptr) / batch);
  }
  ScoredLoss scored_output_loss(kernels::OutputLoss kind, const Tensor& outputs, const Tensor& labels,
                                Tensor& doutputs) {
    const int batch = run_output_loss(kind, outputs, labels, doutputs);
    const std::vector<double> sums =
        reduce_sums({{kernels::Reduction::sum, &row_loss_, nullptr}, {kernels::Reduction::sum, &correct_, nullptr}});
    return {static_cast<float>(sums[0] / batch), static_cast<int>(sums[1] + 0.5)};
  }

  static size_t upload_slot(int slot) {
    if (slot < 0 || slot > 1) fail("upload slot {} (0 or 1)", slot);
    return static_cast<size_t>(slot);
  }

  int index_;
  std::string name_;
  cudaStream_t stream_{}, copy_stream_{};
  cudaEvent_t compute_reached_[2]{}, uploaded_[2]{};
  cublasHandle_t cublas_{};
  cudnnHandle_t cudnn_{};
  ncclComm_t nccl_ = nullptr;  // made at the first sum over ranks, with the stream and events of the sums
  cudaStream_t communication_stream_{};
  cudaEvent_t updates_ready_{}, sums_done_{};
  bool sums_pending_ = false;  // sums started and not yet waited for by stream_
  bool tf32_ = false;
  std::map<GeometryKey, std::unique_ptr<ConvolutionPlan>> plans_;
  DeviceBuffer workspace_;  // one cuDNN workspace for every call; grows to the largest request
  Tensor batch_norm_partials_, reduction_, row_loss_, correct_, pool_output_, pinned_results_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int index, bool tf32) { return std::make_unique<CudaBackend>(index, tf32); }

}  // namespace bioprop
