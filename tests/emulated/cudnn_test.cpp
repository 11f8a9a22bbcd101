// The emulated cuDNN against NVIDIA's documented semantics (cuDNN API reference: 4d tensor, filter
// and convolution descriptors, cudnnConvolutionForward / BackwardData / BackwardFilter, the _v7
// algorithm queries and workspace sizes, pooling), independent of CudaBackend. The forward pass is
// checked against a direct loop written here from the definition; the backward passes against the
// forward one by the adjoint identities <conv(x), dy> = <x, dconv(dy)> = <w, dw(x, dy)>.
#include <cudnn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "device_array.hpp"

namespace bioprop::emulated {
namespace {

struct Shape4 {
  int n, c, h, w;
  size_t count() const { return static_cast<size_t>(n) * c * h * w; }
};

struct Case {
  Shape4 x;
  int k, r, s, pad_h, pad_w, stride_h, stride_w, dilation;
  cudnnConvolutionMode_t mode;
};

std::vector<float> sequence(size_t count, float scale, float shift) {
  std::vector<float> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = std::sin(static_cast<float>(i) * scale + shift);
  return v;
}

// y[n,k,i,j] = sum_{c,p,q} x[n, c, i*u - pad_h + p*dil, j*v - pad_w + q*dil] * w[k, c, p', q'],
// p' = p (cross-correlation) or R-1-p (convolution), zero outside the image.
std::vector<float> direct_convolution(const Case& t, const std::vector<float>& x, const std::vector<float>& w,
                                      int out_h, int out_w) {
  std::vector<float> y(static_cast<size_t>(t.x.n) * t.k * out_h * out_w);
  for (int n = 0; n < t.x.n; ++n)
    for (int k = 0; k < t.k; ++k)
      for (int i = 0; i < out_h; ++i)
        for (int j = 0; j < out_w; ++j) {
          double sum = 0;
          for (int c = 0; c < t.x.c; ++c)
            for (int p = 0; p < t.r; ++p)
              for (int q = 0; q < t.s; ++q) {
                const int row = i * t.stride_h - t.pad_h + p * t.dilation;
                const int col = j * t.stride_w - t.pad_w + q * t.dilation;
                if (row < 0 || row >= t.x.h || col < 0 || col >= t.x.w) continue;
                const bool flip = t.mode == CUDNN_CONVOLUTION;
                const int pp = flip ? t.r - 1 - p : p, qq = flip ? t.s - 1 - q : q;
                sum += x[((static_cast<size_t>(n) * t.x.c + c) * t.x.h + row) * t.x.w + col] *
                       w[((static_cast<size_t>(k) * t.x.c + c) * t.r + pp) * t.s + qq];
              }
          y[((static_cast<size_t>(n) * t.k + k) * out_h + i) * out_w + j] = static_cast<float>(sum);
        }
  return y;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

class EmulatedCudnn : public EmulatedDevice {
 protected:
  void SetUp() override {
    EmulatedDevice::SetUp();
    ASSERT_EQ(cudnnCreate(&handle), CUDNN_STATUS_SUCCESS);
    cudnnCreateTensorDescriptor(&x_desc);
    cudnnCreateTensorDescriptor(&y_desc);
    cudnnCreateFilterDescriptor(&w_desc);
    cudnnCreateConvolutionDescriptor(&conv);
  }
  void TearDown() override {
    cudnnDestroyTensorDescriptor(x_desc);
    cudnnDestroyTensorDescriptor(y_desc);
    cudnnDestroyFilterDescriptor(w_desc);
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroy(handle);
    EmulatedDevice::TearDown();
  }
  // Sets the descriptors of a case; returns the output shape.
  Shape4 describe(const Case& t) {
    EXPECT_EQ(cudnnSetTensor4dDescriptor(x_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, t.x.n, t.x.c, t.x.h, t.x.w),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetFilter4dDescriptor(w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, t.k, t.x.c, t.r, t.s),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolution2dDescriptor(conv, t.pad_h, t.pad_w, t.stride_h, t.stride_w, t.dilation, t.dilation,
                                              t.mode, CUDNN_DATA_FLOAT),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH), CUDNN_STATUS_SUCCESS);
    const int out_h = (t.x.h + 2 * t.pad_h - ((t.r - 1) * t.dilation + 1)) / t.stride_h + 1;
    const int out_w = (t.x.w + 2 * t.pad_w - ((t.s - 1) * t.dilation + 1)) / t.stride_w + 1;
    const Shape4 y{t.x.n, t.k, out_h, out_w};
    EXPECT_EQ(cudnnSetTensor4dDescriptor(y_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, y.n, y.c, y.h, y.w),
              CUDNN_STATUS_SUCCESS);
    return y;
  }
  cudnnHandle_t handle{};
  cudnnTensorDescriptor_t x_desc{}, y_desc{};
  cudnnFilterDescriptor_t w_desc{};
  cudnnConvolutionDescriptor_t conv{};
};

const Case cases[] = {
    {{2, 3, 7, 6}, 4, 3, 3, 1, 1, 2, 2, 1, CUDNN_CROSS_CORRELATION},  // padding and stride
    {{1, 2, 6, 7}, 3, 3, 2, 0, 2, 1, 3, 1, CUDNN_CONVOLUTION},        // flipped filter, unequal sides
    {{2, 2, 9, 9}, 2, 3, 3, 2, 2, 1, 1, 2, CUDNN_CROSS_CORRELATION},  // dilation
};

TEST_F(EmulatedCudnn, ForwardIsTheDirectLoopOfTheDescriptorsMeaning) {
  for (const Case& t : cases) {
    const Shape4 out = describe(t);
    const std::vector<float> x = sequence(t.x.count(), 0.37f, 0.1f),
                             w = sequence(size_t(t.k) * t.x.c * t.r * t.s, 0.71f, 0.3f);
    const std::vector<float> expected = direct_convolution(t, x, w, out.h, out.w);
    DeviceArray dx(x), dw(w), dy(out.count(), 1.0f);
    // alpha = 2, beta = 0.5 over y = 1: 2 * conv + 0.5
    const float alpha = 2.0f, beta = 0.5f;
    ASSERT_EQ(cudnnConvolutionForward(handle, &alpha, x_desc, dx.get(), w_desc, dw.get(), conv,
                                      CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &beta, y_desc, dy.get()),
              CUDNN_STATUS_SUCCESS)
        << cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM);
    const std::vector<float> y = dy.read();
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], 2.0f * expected[i] + 0.5f, 1e-4f) << i;
  }
}

TEST_F(EmulatedCudnn, BackwardPassesAreTheForwardPassesAdjoints) {
  for (const Case& t : cases) {
    const Shape4 out = describe(t);
    const size_t w_count = size_t(t.k) * t.x.c * t.r * t.s;
    const std::vector<float> x = sequence(t.x.count(), 0.37f, 0.1f), w = sequence(w_count, 0.71f, 0.3f);
    const std::vector<float> g = sequence(out.count(), 0.53f, 0.7f);
    const double forward = dot(direct_convolution(t, x, w, out.h, out.w), g);
    DeviceArray dx(x), dw(w), dg(g), grad_x(t.x.count(), NAN), grad_w(w_count, NAN);
    const float one = 1.0f, zero = 0.0f;  // beta = 0: the NaNs in the outputs are never read
    ASSERT_EQ(cudnnConvolutionBackwardData(handle, &one, w_desc, dw.get(), y_desc, dg.get(), conv,
                                           CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, nullptr, 0, &zero, x_desc, grad_x.get()),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(
        cudnnConvolutionBackwardFilter(handle, &one, x_desc, dx.get(), y_desc, dg.get(), conv,
                                       CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, nullptr, 0, &zero, w_desc, grad_w.get()),
        CUDNN_STATUS_SUCCESS);
    EXPECT_NEAR(dot(x, grad_x.read()), forward, 1e-4 * (1 + std::abs(forward)));
    EXPECT_NEAR(dot(w, grad_w.read()), forward, 1e-4 * (1 + std::abs(forward)));
  }
}

TEST_F(EmulatedCudnn, AlgorithmQueriesRankSeveralCandidatesAndWorkspacesAreEnforced) {
  describe(cases[0]);  // stride 2: FFT and WINOGRAD cannot run it
  cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int count = 0;
  ASSERT_EQ(cudnnGetConvolutionForwardAlgorithm_v7(handle, x_desc, w_desc, conv, y_desc,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, results),
            CUDNN_STATUS_SUCCESS);
  ASSERT_GE(count, 4);
  int usable = 0;
  for (int i = 0; i < count; ++i) usable += results[i].status == CUDNN_STATUS_SUCCESS;
  EXPECT_GE(usable, 3);
  EXPECT_EQ(results[count - 1].status, CUDNN_STATUS_NOT_SUPPORTED) << "FFT at stride 2 is listed last";

  size_t needed = 0;
  ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle, x_desc, w_desc, conv, y_desc,
                                                    CUDNN_CONVOLUTION_FWD_ALGO_GEMM, &needed),
            CUDNN_STATUS_SUCCESS);
  ASSERT_GT(needed, 0u);
  DeviceArray dx(cases[0].x.count()), dw(4 * 3 * 9), dy(2 * 4 * 4 * 3), workspace(needed / sizeof(float));
  const float one = 1.0f, zero = 0.0f;
  EXPECT_EQ(
      cudnnConvolutionForward(handle, &one, x_desc, dx.get(), w_desc, dw.get(), conv, CUDNN_CONVOLUTION_FWD_ALGO_GEMM,
                              workspace.get(), needed - 4, &zero, y_desc, dy.get()),
      CUDNN_STATUS_BAD_PARAM);
  EXPECT_NE(std::string(cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM)).find("needs " + std::to_string(needed)),
            std::string::npos);
  EXPECT_EQ(cudnnConvolutionForward(handle, &one, x_desc, dx.get(), w_desc, dw.get(), conv,
                                    CUDNN_CONVOLUTION_FWD_ALGO_GEMM, workspace.get(), needed, &zero, y_desc, dy.get()),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(
      cudnnConvolutionForward(handle, &one, x_desc, dx.get(), w_desc, dw.get(), conv,
                              CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, workspace.get(), needed, &zero, y_desc, dy.get()),
      CUDNN_STATUS_NOT_SUPPORTED);
  // The workspace depends on the math type that runs, as cuDNN's does.
  size_t with_tensor_cores = 0, with_fma = 0;
  cudnnSetConvolutionMathType(conv, CUDNN_TENSOR_OP_MATH);
  cudnnGetConvolutionForwardWorkspaceSize(handle, x_desc, w_desc, conv, y_desc,
                                          CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, &with_tensor_cores);
  cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH);
  cudnnGetConvolutionForwardWorkspaceSize(handle, x_desc, w_desc, conv, y_desc,
                                          CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, &with_fma);
  EXPECT_NE(with_tensor_cores, with_fma);
}

TEST_F(EmulatedCudnn, DescriptorsAreValidated) {
  EXPECT_EQ(cudnnSetTensor4dDescriptor(x_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 0, 1, 1, 1),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(conv, -1, 0, 1, 1, 1, 1, CUDNN_CONVOLUTION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(conv, 0, 0, 0, 1, 1, 1, CUDNN_CONVOLUTION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_BAD_PARAM);
  // An output descriptor that is not what the convolution gives (padding 1 expected, 0 described).
  Case t = cases[0];
  describe(t);
  cudnnSetConvolution2dDescriptor(conv, 0, 0, t.stride_h, t.stride_w, 1, 1, t.mode, CUDNN_DATA_FLOAT);
  int count = 0;
  cudnnConvolutionFwdAlgoPerf_t results[8];
  EXPECT_EQ(cudnnGetConvolutionForwardAlgorithm_v7(handle, x_desc, w_desc, conv, y_desc, 8, &count, results),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_NE(std::string(cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM)).find("the convolution gives"), std::string::npos);
}

// 1x1x4x4 input, 2x2 windows at stride 2: max and average forward, and where the gradients go.
TEST_F(EmulatedCudnn, PoolingForwardAndBackward) {
  cudnnPoolingDescriptor_t pooling{};
  ASSERT_EQ(cudnnCreatePoolingDescriptor(&pooling), CUDNN_STATUS_SUCCESS);
  cudnnSetTensor4dDescriptor(x_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 4, 4);
  cudnnSetTensor4dDescriptor(y_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 2, 2);
  const std::vector<float> x{1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 1, 1, 9, 0, 1, 2};
  DeviceArray dx(x), dy_values(std::vector<float>{1, 2, 3, 4}), y(4), grad(16);
  const float one = 1.0f, zero = 0.0f;
  for (cudnnPoolingMode_t mode : {CUDNN_POOLING_MAX, CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING}) {
    ASSERT_EQ(cudnnSetPooling2dDescriptor(pooling, mode, CUDNN_NOT_PROPAGATE_NAN, 2, 2, 0, 0, 2, 2),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnPoolingForward(handle, pooling, &one, x_desc, dx.get(), &zero, y_desc, y.get()),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnPoolingBackward(handle, pooling, &one, y_desc, y.get(), y_desc, dy_values.get(), x_desc, dx.get(),
                                   &zero, x_desc, grad.get()),
              CUDNN_STATUS_SUCCESS);
    if (mode == CUDNN_POOLING_MAX) {
      EXPECT_EQ(y.read(), (std::vector<float>{5, 8, 9, 2}));
      EXPECT_EQ(grad.read(), (std::vector<float>{0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0, 4}));
    } else {
      EXPECT_EQ(y.read(), (std::vector<float>{3.25f, 2.75f, 2.25f, 1.25f}));
      EXPECT_EQ(grad.read()[0], 0.25f);
      EXPECT_EQ(grad.read()[15], 1.0f);
    }
  }
  // x and dx the same memory: cuDNN reads x while writing dx.
  EXPECT_EQ(cudnnPoolingBackward(handle, pooling, &one, y_desc, y.get(), y_desc, dy_values.get(), x_desc, grad.get(),
                                 &zero, x_desc, grad.get()),
            CUDNN_STATUS_BAD_PARAM);
  // A wrong output shape.
  cudnnSetTensor4dDescriptor(y_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 3, 2);
  EXPECT_EQ(cudnnPoolingForward(handle, pooling, &one, x_desc, dx.get(), &zero, y_desc, y.get()),
            CUDNN_STATUS_BAD_PARAM);
  cudnnDestroyPoolingDescriptor(pooling);
}

}  // namespace
}  // namespace bioprop::emulated
