// Device discovery. Runs everywhere: without a GPU the GPU-only checks skip (CI has no GPU).
#include <gtest/gtest.h>

#include "bioprop/device.hpp"
#include "bioprop/error.hpp"

namespace bioprop {
namespace {

TEST(DeviceChoice, CpuAndAutoAlwaysWork) {
  EXPECT_EQ(choose_device("cpu").device, Device::cpu);
  EXPECT_EQ(choose_device("auto").device, Device::cpu);  // until the CUDA backend is verified on a GPU
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

}  // namespace
}  // namespace bioprop
