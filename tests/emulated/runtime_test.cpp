// The emulated CUDA runtime against the CUDA Runtime API's documented semantics, independent of
// CudaBackend: tracked memory and the checks on it, deferred execution in stream order, events, the
// legacy default stream, sticky errors.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bioprop/cuda_launch.hpp"
#include "device_array.hpp"

namespace bioprop::emulated {
namespace {

__global__ void add_one(float* x, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) x[i] += 1.0f;
}

std::string message(cudaError_t error) { return cudaGetErrorString(error); }

using EmulatedRuntime = EmulatedDevice;

TEST_F(EmulatedRuntime, CopiesAreCheckedAgainstTheirAllocationAndDirection) {
  DeviceArray device(4);
  std::vector<float> host(8);
  cudaError_t e = cudaMemcpy(device.get(), host.data(), 8 * sizeof(float), cudaMemcpyHostToDevice);
  EXPECT_EQ(e, cudaErrorInvalidValue);
  EXPECT_NE(message(e).find("cudaMemcpyAsync: destination"), std::string::npos) << message(e);
  EXPECT_NE(message(e).find("runs past the end of its 16-byte allocation"), std::string::npos) << message(e);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "an argument error is not sticky";

  e = cudaMemcpy(host.data(), device.get(), 16, cudaMemcpyHostToDevice);  // the kind says the reverse
  EXPECT_EQ(e, cudaErrorInvalidValue);
  EXPECT_NE(message(e).find("is host memory, not device memory"), std::string::npos) << message(e);
  e = cudaMemcpy(device.get(), device.get() + 1, 4, cudaMemcpyHostToDevice);
  EXPECT_NE(message(e).find("is device memory, but the copy's kind says host"), std::string::npos) << message(e);
  e = cudaMemsetAsync(host.data(), 0, 4, nullptr);
  EXPECT_NE(message(e).find("cudaMemsetAsync: destination"), std::string::npos) << message(e);
  EXPECT_EQ(cudaMemcpy(device.get() + 1, host.data(), 12, cudaMemcpyHostToDevice), cudaSuccess);
  cudaGetLastError();
}

TEST_F(EmulatedRuntime, UseAfterFreeAndDoubleFreeAreNamed) {
  float* p = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&p), 64), cudaSuccess);
  ASSERT_EQ(cudaFree(p), cudaSuccess);
  float value = 1.0f;
  cudaError_t e = cudaMemcpy(p, &value, 4, cudaMemcpyHostToDevice);
  EXPECT_NE(message(e).find("use after free"), std::string::npos) << message(e);
  e = cudaFree(p);
  EXPECT_EQ(e, cudaErrorInvalidValue);
  EXPECT_NE(message(e).find("double free"), std::string::npos) << message(e);
  float* inside = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&inside), 64), cudaSuccess);
  EXPECT_NE(message(cudaFree(inside + 1)).find("inside an allocation"), std::string::npos);
  EXPECT_NE(message(cudaFreeHost(inside)).find("not pinned host memory"), std::string::npos);
  EXPECT_EQ(cudaFree(inside), cudaSuccess);
  cudaGetLastError();
}

TEST_F(EmulatedRuntime, TheDevicesMemorySizeIsSettableForOutOfMemoryTests) {
  const size_t before = memory_size();
  set_memory_size(1 << 20);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 2 << 20), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "out of memory is not sticky";
  size_t free_bytes = 0, total_bytes = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_bytes, &total_bytes), cudaSuccess);
  EXPECT_EQ(total_bytes, size_t{1} << 20);
  set_memory_size(before);
}

// Work on a stream runs only when the program synchronises with it: reading a result without
// synchronising sees the old value, on the emulated device always (on a GPU, by luck or not).
TEST_F(EmulatedRuntime, StreamWorkIsDeferredUntilSynchronised) {
  cudaStream_t stream{};
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  DeviceArray x(std::vector<float>{1, 2, 3});
  float* pinned = nullptr;
  ASSERT_EQ(cudaHostAlloc(reinterpret_cast<void**>(&pinned), 3 * sizeof(float), cudaHostAllocDefault), cudaSuccess);
  pinned[0] = pinned[1] = pinned[2] = -1.0f;
  launch<add_one>(dim3(1), dim3(32), 0, stream, x.get(), 3);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(pinned, x.get(), 3 * sizeof(float), cudaMemcpyDeviceToHost, stream), cudaSuccess);
  EXPECT_EQ(pending_operations(), 2u);
  EXPECT_EQ(pinned[0], -1.0f) << "the copy into pinned memory has not run";
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(pinned[0], 2.0f);
  EXPECT_EQ(pinned[2], 4.0f);
  cudaFreeHost(pinned);
  cudaStreamDestroy(stream);
}

// A pageable source is read when the call is made (CUDA stages it before returning); a pinned one
// when the copy runs, so a staging buffer reused too early uploads the new contents.
TEST_F(EmulatedRuntime, PageableSourcesAreStagedAtTheCallPinnedOnesReadWhenTheCopyRuns) {
  cudaStream_t stream{};
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  DeviceArray a(1), b(1);
  std::vector<float> pageable{5.0f};
  float* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&pinned), sizeof(float)), cudaSuccess);
  *pinned = 5.0f;
  ASSERT_EQ(cudaMemcpyAsync(a.get(), pageable.data(), 4, cudaMemcpyHostToDevice, stream), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(b.get(), pinned, 4, cudaMemcpyHostToDevice, stream), cudaSuccess);
  pageable[0] = *pinned = 7.0f;
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(a.read()[0], 5.0f);
  EXPECT_EQ(b.read()[0], 7.0f);
  cudaFreeHost(pinned);
  cudaStreamDestroy(stream);
}

// cudaStreamWaitEvent orders one stream after another's work up to the record; without it the
// second stream's work runs on stale data.
TEST_F(EmulatedRuntime, EventsOrderStreams) {
  for (bool wait : {true, false}) {
    cudaStream_t producer{}, consumer{};
    cudaEvent_t produced{};
    ASSERT_EQ(cudaStreamCreateWithFlags(&producer, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cudaStreamCreateWithFlags(&consumer, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cudaEventCreateWithFlags(&produced, cudaEventDisableTiming), cudaSuccess);
    DeviceArray x(std::vector<float>{0}), y(std::vector<float>{0});
    launch<add_one>(dim3(1), dim3(1), 0, producer, x.get(), 1);
    ASSERT_EQ(cudaEventRecord(produced, producer), cudaSuccess);
    launch<add_one>(dim3(1), dim3(1), 0, producer, x.get(), 1);  // after the record: not waited for
    if (wait) {
      ASSERT_EQ(cudaStreamWaitEvent(consumer, produced, 0), cudaSuccess);
    }
    ASSERT_EQ(cudaMemcpyAsync(y.get(), x.get(), 4, cudaMemcpyDeviceToDevice, consumer), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(consumer), cudaSuccess);
    EXPECT_EQ(y.read()[0], wait ? 1.0f : 0.0f) << (wait ? "with" : "without") << " the wait";
    ASSERT_EQ(cudaEventSynchronize(produced), cudaSuccess);
    cudaStreamSynchronize(producer);
    EXPECT_EQ(x.read()[0], 2.0f);
    cudaEventDestroy(produced);
    cudaStreamDestroy(producer);
    cudaStreamDestroy(consumer);
  }
}

// Blocking streams and the legacy default stream wait for each other; non-blocking streams do not.
TEST_F(EmulatedRuntime, TheLegacyStreamOrdersOnlyWithBlockingStreams) {
  for (bool non_blocking : {false, true}) {
    cudaStream_t stream{};
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, non_blocking ? cudaStreamNonBlocking : cudaStreamDefault),
              cudaSuccess);
    DeviceArray x(std::vector<float>{0});
    launch<add_one>(dim3(1), dim3(1), 0, stream, x.get(), 1);
    float host = -1.0f;
    ASSERT_EQ(cudaMemcpy(&host, x.get(), 4, cudaMemcpyDeviceToHost), cudaSuccess);  // the legacy stream
    EXPECT_EQ(host, non_blocking ? 0.0f : 1.0f) << (non_blocking ? "non-blocking" : "blocking");
    cudaStreamDestroy(stream);
  }
}

// A kernel given a host pointer faults the device: the error is sticky, names the kernel and the
// argument, and every later call fails with it (until the process ends; here, clear_fault).
TEST_F(EmulatedRuntime, AHostPointerInAKernelIsAStickyFaultNamingIt) {
  std::vector<float> host(4);
  launch<add_one>(dim3(1), dim3(4), 0, nullptr, host.data(), 4);
  const cudaError_t e = cudaGetLastError();
  EXPECT_EQ(e, cudaErrorIllegalAddress);
  EXPECT_NE(message(e).find("add_one"), std::string::npos) << message(e);
  EXPECT_NE(message(e).find("argument 1"), std::string::npos) << message(e);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 4), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalAddress) << "sticky";
}

TEST_F(EmulatedRuntime, LaunchesPastCudasLimitsAreInvalidConfigurations) {
  DeviceArray x(1);
  launch<add_one>(dim3(1), dim3(2048), 0, nullptr, x.get(), 1);
  const cudaError_t e = cudaGetLastError();
  EXPECT_EQ(e, cudaErrorInvalidConfiguration);
  EXPECT_NE(message(e).find("add_one"), std::string::npos) << message(e);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST_F(EmulatedRuntime, DestroyedHandlesAreInvalid) {
  cudaStream_t stream{};
  cudaEvent_t event{};
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&event), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
  ASSERT_EQ(cudaEventDestroy(event), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaEventRecord(event, nullptr), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaStreamDestroy(stream), cudaErrorInvalidResourceHandle);
  cudaGetLastError();
}

}  // namespace
}  // namespace bioprop::emulated
