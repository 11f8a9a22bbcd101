// The emulated cuBLAS against NVIDIA's documented semantics (cuBLAS library guide, cublas<t>gemm,
// axpy, scal), on small hand-computed examples, independent of CudaBackend.
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "device_array.hpp"

namespace bioprop::emulated {
namespace {

class EmulatedCublas : public EmulatedDevice {
 protected:
  void SetUp() override {
    EmulatedDevice::SetUp();
    ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  }
  void TearDown() override {
    cublasDestroy(handle);
    EmulatedDevice::TearDown();
  }
  cublasHandle_t handle{};
};

// Column-major storage of a rows x cols matrix with leading dimension ld; padding holds -999.
std::vector<float> column_major(const std::vector<std::vector<float>>& m, int ld) {
  const int rows = static_cast<int>(m.size()), cols = static_cast<int>(m[0].size());
  std::vector<float> out(static_cast<size_t>(ld) * cols, -999.0f);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) out[static_cast<size_t>(c) * ld + r] = m[r][c];
  return out;
}

// A (2x3) times B (3x2) = [[58, 64], [139, 154]], stored as given or transposed, every leading
// dimension padded by one or two rows; C starts at 1 and beta = 0.5, alpha = 2.
TEST_F(EmulatedCublas, SgemmInEveryTransposeCaseWithPaddedLeadingDimensions) {
  const std::vector<std::vector<float>> a{{1, 2, 3}, {4, 5, 6}}, at{{1, 4}, {2, 5}, {3, 6}};
  const std::vector<std::vector<float>> b{{7, 8}, {9, 10}, {11, 12}}, bt{{7, 9, 11}, {8, 10, 12}};
  const float product[2][2] = {{58, 64}, {139, 154}};
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int lda = (ta ? 3 : 2) + 1, ldb = (tb ? 2 : 3) + 2, ldc = 3;
      DeviceArray da(column_major(ta ? at : a, lda)), db(column_major(tb ? bt : b, ldb));
      DeviceArray dc(column_major({{1, 1}, {1, 1}}, ldc));
      const float alpha = 2.0f, beta = 0.5f;
      ASSERT_EQ(cublasSgemm(handle, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, 2, 2, 3, &alpha,
                            da.get(), lda, db.get(), ldb, &beta, dc.get(), ldc),
                CUBLAS_STATUS_SUCCESS);
      const std::vector<float> c = dc.read();
      for (int r = 0; r < 2; ++r)
        for (int col = 0; col < 2; ++col)
          EXPECT_EQ(c[static_cast<size_t>(col) * ldc + r], 2.0f * product[r][col] + 0.5f)
              << "transa " << ta << " transb " << tb << " at " << r << "," << col;
      EXPECT_EQ(c[2], -999.0f) << "the padding row of C is not touched";
    }
}

TEST_F(EmulatedCublas, BetaZeroNeverReadsC) {
  DeviceArray a(std::vector<float>{1, 2}), b(std::vector<float>{3}), c(std::vector<float>{NAN, NAN});
  const float one = 1.0f, zero = 0.0f;
  ASSERT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &one, a.get(), 2, b.get(), 1, &zero, c.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c.read(), (std::vector<float>{3, 6}));
}

// cuBLAS's rules: lda >= max(1, rows of A as stored), the same for B, ldc >= max(1, m).
TEST_F(EmulatedCublas, LeadingDimensionsAreCheckedAgainstCublassRules) {
  DeviceArray a(6), b(6), c(4);
  const float one = 1.0f;
  EXPECT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a.get(), 1, b.get(), 3, &one, c.get(), 2),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_NE(std::string(cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE)).find("lda = 1 < max(1, m = 2)"),
            std::string::npos);
  EXPECT_EQ(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 3, &one, a.get(), 2, b.get(), 3, &one, c.get(), 2),
            CUBLAS_STATUS_INVALID_VALUE);  // A^T: A is stored k x m, lda >= k = 3
  EXPECT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_T, 2, 2, 3, &one, a.get(), 2, b.get(), 1, &one, c.get(), 2),
            CUBLAS_STATUS_INVALID_VALUE);  // B^T: B is stored n x k, ldb >= n = 2
  EXPECT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a.get(), 2, b.get(), 3, &one, c.get(), 1),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, -1, 2, 3, &one, a.get(), 2, b.get(), 3, &one, c.get(), 2),
            CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(EmulatedCublas, OperandsMustBeDeviceMemoryOfTheRightSize) {
  DeviceArray a(5), b(6), c(4);
  std::vector<float> host(6);
  const float one = 1.0f;
  EXPECT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a.get(), 2, b.get(), 3, &one, c.get(), 2),
            CUBLAS_STATUS_INVALID_VALUE);  // A needs 6 floats
  EXPECT_NE(std::string(cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE)).find("runs past the end"),
            std::string::npos);
  EXPECT_EQ(cublasSaxpy(handle, 6, &one, host.data(), 1, b.get(), 1), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_NE(std::string(cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE)).find("host memory"), std::string::npos);
}

TEST_F(EmulatedCublas, AxpyAndScalWithStrides) {
  DeviceArray x(std::vector<float>{1, 2, 3, 4}), y(std::vector<float>{10, 20, 30, 40});
  const float two = 2.0f, half = 0.5f;
  ASSERT_EQ(cublasSaxpy(handle, 2, &two, x.get(), 2, y.get(), 1), CUBLAS_STATUS_SUCCESS);  // x: 1, 3
  EXPECT_EQ(y.read(), (std::vector<float>{12, 26, 30, 40}));
  ASSERT_EQ(cublasSscal(handle, 2, &half, y.get(), 3), CUBLAS_STATUS_SUCCESS);  // y[0], y[3]
  EXPECT_EQ(y.read(), (std::vector<float>{6, 26, 30, 20}));
  EXPECT_EQ(cublasSaxpy(handle, 2, &two, x.get(), 0, y.get(), 1), CUBLAS_STATUS_INVALID_VALUE);
}

// FP32 unless the handle allows TF32 tensor cores: then the operands keep 10 mantissa bits.
TEST_F(EmulatedCublas, Tf32MathRoundsTheOperands) {
  const float fine = 1.0f + 1.0f / 4096.0f;  // needs 12 mantissa bits
  DeviceArray a(std::vector<float>{fine}), b(std::vector<float>{1.0f}), c(1);
  const float one = 1.0f, zero = 0.0f;
  ASSERT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, a.get(), 1, b.get(), 1, &zero, c.get(), 1),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c.read()[0], fine);
  ASSERT_EQ(cublasSetMathMode(handle, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, a.get(), 1, b.get(), 1, &zero, c.get(), 1),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c.read()[0], 1.0f);
}

// The product is queued on the handle's stream and runs when that stream is synchronised.
TEST_F(EmulatedCublas, WorkRunsOnTheHandlesStream) {
  cudaStream_t stream{};
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cublasSetStream(handle, stream), CUBLAS_STATUS_SUCCESS);
  DeviceArray x(std::vector<float>{1, 2});
  const float three = 3.0f;
  ASSERT_EQ(cublasSscal(handle, 2, &three, x.get(), 1), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(pending_operations(), 1u);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(x.read(), (std::vector<float>{3, 6}));
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace bioprop::emulated
