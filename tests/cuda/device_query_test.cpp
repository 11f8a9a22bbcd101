// Device discovery. Runs everywhere: without a GPU the GPU-only checks skip, except on the emulated
// device and with BIOPROP_REQUIRE_GPU=1.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "bioprop/device.hpp"
#include "bioprop/error.hpp"
#include "gpu_required.hpp"

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

#if defined(BIOPROP_EMULATED_DEVICE)
// A driver that cannot be asked is named, never taken for "no GPU" (which would let every CUDA test
// skip). The emulated device plays a driver older than the runtime.
TEST(DeviceChoice, ADriverErrorIsReportedNotTakenForNoGpu) {
  setenv("BIOPROP_EMULATED_DRIVER_ERROR", "1", 1);
  const CudaDevices devices = cuda_devices();
  const DeviceChoice choice = choose_device("auto");
  std::string cuda_message;
  try {
    choose_device("cuda");
  } catch (const Error& e) {
    cuda_message = e.what();
  }
  unsetenv("BIOPROP_EMULATED_DRIVER_ERROR");
  EXPECT_EQ(devices.count, 0);
  EXPECT_NE(devices.error.find("driver"), std::string::npos) << devices.error;
  EXPECT_NE(devices.error.find("11.4"), std::string::npos) << devices.error;
  EXPECT_EQ(choice.device, Device::cpu);
  EXPECT_NE(choice.description.find("CUDA unusable"), std::string::npos) << choice.description;
  EXPECT_NE(cuda_message.find("CUDA unusable"), std::string::npos) << cuda_message;
  EXPECT_EQ(cuda_devices().count, 1);
}

TEST(CudaDevice, TheEmulatedDeviceSaysItIsOne) {
  EXPECT_NE(cuda_device_name(0).find("emulated"), std::string::npos) << cuda_device_name(0);
  EXPECT_NE(choose_device("cuda").description.find("emulated"), std::string::npos);
}
#endif

TEST(CudaDevice, ReportsANameWhenPresent) {
  BIOPROP_SKIP_WITHOUT_GPU();
  EXPECT_FALSE(cuda_device_name(0).empty());
}

// The peaks the benchmarks divide by: an H100 has about 2-3.4 TB/s and 50-67 TFLOP/s FP32.
TEST(CudaDevice, PeaksAreThoseOfADataCentreGpu) {
  BIOPROP_SKIP_WITHOUT_GPU();
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
