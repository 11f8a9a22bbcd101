// Device discovery. Runs everywhere: without a GPU the GPU-only checks skip (CI has no GPU).
#include <gtest/gtest.h>

#include "bioprop/device.hpp"
#include "bioprop/error.hpp"

namespace bioprop {
namespace {

TEST(DeviceChoice, CpuAndAutoAlwaysWork) {
  EXPECT_EQ(choose_device("cpu").device, Device::cpu);
  EXPECT_EQ(choose_device("auto").device, cuda_device_count() > 0 ? Device::cuda : Device::cpu);
  EXPECT_FALSE(choose_device("auto").description.empty());
}

TEST(DeviceChoice, MalformedRequestsAreClearErrors) {
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda1", "cuda:-1"}) {
    try {
      choose_device(bad);
      FAIL() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(DeviceChoice, CudaNeedsAVisibleDevice) {
  EXPECT_THROW(choose_device("cuda:" + std::to_string(cuda_device_count())), Error);
  if (cuda_device_count() == 0) {
    EXPECT_THROW(choose_device("cuda"), Error);
  }
}

TEST(CudaDevice, ReportsANameWhenPresent) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  EXPECT_FALSE(cuda_device_name(0).empty());
}

// The peaks the benchmarks divide by: an H100 has about 2-3.4 TB/s and 50-67 TFLOP/s FP32.
TEST(CudaDevice, PeaksAreThoseOfADataCentreGpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const DevicePeaks peaks = cuda_device_peaks(0);
  EXPECT_GT(peaks.memory_gb_per_s, 500.0);
  EXPECT_LT(peaks.memory_gb_per_s, 20000.0);
  EXPECT_GT(peaks.fp32_gflop_per_s, 5000.0);
  EXPECT_LT(peaks.fp32_gflop_per_s, 200000.0);
  RecordProperty("memory_gb_per_s", std::to_string(peaks.memory_gb_per_s));
  RecordProperty("fp32_gflop_per_s", std::to_string(peaks.fp32_gflop_per_s));
}

}  // namespace
}  // namespace bioprop
