#pragma once
// Device memory for the emulated device's own tests, through the CUDA runtime API only.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <vector>

#include "emulated_device.hpp"

namespace bioprop::emulated {

class DeviceArray {
 public:
  explicit DeviceArray(const std::vector<float>& values) : count_(values.size()) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&data_), bytes()), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(data_, values.data(), bytes(), cudaMemcpyHostToDevice), cudaSuccess);
  }
  explicit DeviceArray(size_t count, float value = 0.0f) : DeviceArray(std::vector<float>(count, value)) {}
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  float* get() const { return data_; }
  size_t bytes() const { return count_ * sizeof(float); }
  std::vector<float> read() const {
    std::vector<float> values(count_);
    EXPECT_EQ(cudaMemcpy(values.data(), data_, bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
    return values;
  }

 private:
  float* data_ = nullptr;
  size_t count_;
};

// Each test starts on a healthy device: a test that provokes a fault clears it after itself too.
class EmulatedDevice : public ::testing::Test {
 protected:
  void SetUp() override { clear_fault(); }
  void TearDown() override { clear_fault(); }
};

}  // namespace bioprop::emulated
