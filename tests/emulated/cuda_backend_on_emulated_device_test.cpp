// CudaBackend on the emulated device, where only the emulation can reach: the prefetcher's pinned
// staging and copy stream under deferred execution (a missing event wait shows as a wrong batch), the
// caching allocator, out-of-memory messages, the cap on cuDNN workspaces. The operation-by-operation
// parity tests are tests/cuda/cuda_backend_test.cpp, built for this device too.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bioprop/data.hpp"
#include "bioprop/device.hpp"
#include "bioprop/device_memory.hpp"
#include "bioprop/error.hpp"
#include "emulated_device.hpp"
#include "kernels/launchers.hpp"
#include "numbered_dataset.hpp"

namespace bioprop {
namespace {

// Every batch the prefetcher hands out, read on the compute stream (a reduction there), equals the
// host's batch: the upload of batch k + 1 on the copy stream, the compute stream's wait for it, and the
// reuse of the two pinned staging buffers are all in order. Work runs only when waited for, so a
// missing wait reads a buffer the copy has not filled yet.
TEST(CudaBackendOnEmulatedDevice, PrefetchedBatchesArriveWholeThroughTheCopyStream) {
  const Dataset data = numbered_dataset(157, {1, 4, 5}, 977);
  auto gpu = make_cuda_backend(0);
  auto cpu = make_cpu_backend();
  for (int depth : {2, 3}) {
    BatchIterator reference(data, 16, true, 5, 1);
    Prefetcher prefetcher(data, 16, true, 5, 1, *gpu, depth);
    Batch expected, actual;
    int count = 0;
    while (reference.next(*cpu, expected)) {
      ASSERT_TRUE(prefetcher.next(*gpu, actual)) << "batch " << count;
      ASSERT_EQ(actual.inputs.device(), Device::cuda);
      // Sums in FP64 in another order: equal to about 1e-15; a stale or unfilled buffer is far off.
      const double squares = cpu->sum_of_squares(expected.inputs), labels = cpu->dot(expected.labels, expected.labels);
      EXPECT_NEAR(gpu->sum_of_squares(actual.inputs), squares, 1e-9 * squares) << "batch " << count;
      EXPECT_NEAR(gpu->dot(actual.labels, actual.labels), labels, 1e-9 * labels + 1e-12) << "batch " << count;
      ++count;
    }
    EXPECT_FALSE(prefetcher.next(*gpu, actual));
    EXPECT_EQ(count, 10);
  }
}

// After one round of tensors, the same shapes are served from the cache without cudaMalloc (unless
// BIOPROP_NO_ALLOCATOR_CACHE=1 bypasses it).
TEST(CudaBackendOnEmulatedDevice, TheCachingAllocatorReusesBlocks) {
  auto gpu = make_cuda_backend(0);
  const auto round = [&] {
    for (int i = 0; i < 5; ++i) {
      Tensor a({64, 100}, Device::cuda), b({3, 7}, Device::cuda);
      gpu->fill(a, 1.0f);
    }
  };
  round();
  const size_t allocations = device_memory_stats().device_allocations;
  round();
  if (const char* bypass = std::getenv("BIOPROP_NO_ALLOCATOR_CACHE"); bypass && bypass[0] == '1') {
    // The sanitizer runs bypass the cache: every tensor is its own cudaMalloc, nothing is kept.
    EXPECT_EQ(device_memory_stats().device_allocations, allocations + 10);
    EXPECT_EQ(device_memory_stats().cached_bytes, 0u);
  } else {
    EXPECT_EQ(device_memory_stats().device_allocations, allocations);
    EXPECT_GT(device_memory_stats().cached_bytes, 0u);
  }
  Tensor fresh({64, 100}, Device::cuda);
  EXPECT_EQ(gpu->sum_of_squares(fresh), 0.0) << "new tensors are zero-filled even from the cache";
}

// Packed runs (bioprop compare --pack) give each trainer its thread, backend and stream. A block one
// stream freed may still be read by its queued kernels, so another stream gets it only once that stream
// is retired (synchronised); each thread's memory account counts its own blocks only.
TEST(CudaBackendOnEmulatedDevice, FreedBlocksStayWithTheirStreamUntilItRetires) {
  if (const char* bypass = std::getenv("BIOPROP_NO_ALLOCATOR_CACHE"); bypass && bypass[0] == '1')
    GTEST_SKIP() << "no cache to test: BIOPROP_NO_ALLOCATOR_CACHE=1";
  cudaStream_t first = nullptr, second = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&first, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaStreamCreateWithFlags(&second, cudaStreamNonBlocking), cudaSuccess);
  const size_t count = 12345;  // a size no other test's tensor has
  const float* freed = nullptr;
  std::thread([&] {
    set_cuda_work_stream(first);
    {
      const DeviceMemoryAccount account;
      freed = cuda_allocate_floats(count).get();
      EXPECT_EQ(device_memory_stats().peak_bytes, 97u * 512) << "12345 floats (49380 bytes), rounded up to 512 bytes";
    }
    EXPECT_EQ(cuda_allocate_floats(count).get(), freed) << "its own stream reuses the block at once";
  }).join();
  std::thread([&] {
    set_cuda_work_stream(second);
    const DeviceMemoryAccount account;
    EXPECT_EQ(device_memory_stats().peak_bytes, 0u) << "a new account starts empty";
    const std::shared_ptr<float> held = cuda_allocate_floats(count);
    EXPECT_NE(held.get(), freed) << "another stream must not get a block in use on the first";
    ASSERT_EQ(cudaStreamSynchronize(first), cudaSuccess);
    retire_cuda_work_stream(first);
    EXPECT_EQ(cuda_allocate_floats(count).get(), freed) << "once the first stream is retired, its blocks are free";
  }).join();
  cudaStreamDestroy(first);
  cudaStreamDestroy(second);
}

TEST(CudaBackendOnEmulatedDevice, OutOfMemoryIsAClearError) {
  auto gpu = make_cuda_backend(0);
  const size_t before = emulated::memory_size();
  emulated::set_memory_size(size_t{64} << 20);
  std::string message;
  try {
    Tensor huge({100, 1024, 1024}, Device::cuda);  // 400 MiB
  } catch (const Error& e) {
    message = e.what();
  }
  emulated::set_memory_size(before);
  EXPECT_NE(message.find("out of GPU memory"), std::string::npos) << message;
  EXPECT_NE(message.find("400.0 MiB"), std::string::npos) << message;
  EXPECT_NE(message.find("--batch-size"), std::string::npos) << message;
}

// With little free memory, an algorithm whose workspace passes the cap (half the free memory) is
// passed over even though it would fit, and the convolution still gives the CPU's result.
TEST(CudaBackendOnEmulatedDevice, ConvolutionWorkspacesAreCapped) {
  auto gpu = make_cuda_backend(0);
  auto cpu = make_cpu_backend();
  WindowGeometry g{8, 16, 60, 60, 16, 60, 60, 3, 3, 1, 1};  // FFT (ranked first): 64 x 64 tiles, 16.8 MB
  Tensor x({8, 16, 60, 60}), w({16, 16, 3, 3}), y({8, 16, 60, 60});
  cpu->random_normal(x, 0, 1, 1, 0);
  cpu->random_normal(w, 0, 1, 2, 0);
  cpu->conv2d_forward(x, w, y, g);
  const size_t before = emulated::memory_size();
  emulated::set_memory_size(size_t{30} << 20);  // about 26 MB free below: a cap of 13 MB
  const Tensor gx = gpu->to_device(x), gw = gpu->to_device(w);
  Tensor gy({8, 16, 60, 60}, Device::cuda);
  const size_t in_use = device_memory_stats().in_use_bytes;
  gpu->conv2d_forward(gx, gw, gy, g);
  const size_t workspace = device_memory_stats().in_use_bytes - in_use;
  const Tensor result = gpu->to_host(gy);
  emulated::set_memory_size(before);
  EXPECT_LT(workspace, size_t{1} << 20) << "the FFT workspace (16.8 MB) fits in memory but passes the cap";
  for (size_t i = 0; i < result.numel(); i += 97) ASSERT_NEAR(result.at(i), y.at(i), 1e-4 * (1 + std::abs(y.at(i))));
}

// After a device fault every cudaMalloc fails with it: the message names that error, not "out of memory".
TEST(CudaBackendOnEmulatedDevice, AFailedAllocationNamesTheRealError) {
  auto gpu = make_cuda_backend(0);
  std::vector<float> host(16);
  std::string launch_message, allocation_message;
  try {
    kernels::fill(host.data(), 1.0f, host.size(), nullptr);  // a host pointer in a kernel: a fault
  } catch (const Error& e) {
    launch_message = e.what();
  }
  try {
    Tensor t({12345, 7}, Device::cuda);
  } catch (const Error& e) {
    allocation_message = e.what();
  }
  emulated::clear_fault();
  EXPECT_NE(launch_message.find("fill_kernel"), std::string::npos) << launch_message;
  EXPECT_NE(allocation_message.find("cudaMalloc of"), std::string::npos) << allocation_message;
  EXPECT_NE(allocation_message.find("illegal memory access"), std::string::npos) << allocation_message;
  EXPECT_EQ(allocation_message.find("out of GPU memory"), std::string::npos) << allocation_message;
}

TEST(CudaBackendOnEmulatedDevice, AWrongShapeIsAnErrorNotAnOverrun) {
  auto gpu = make_cuda_backend(0);
  Tensor a({10}, Device::cuda), b({11}, Device::cuda);
  EXPECT_THROW(gpu->axpy(1.0f, a, b), Error);
  EXPECT_THROW(gpu->multiply(a, a, b), Error);
  WindowGeometry g{1, 1, 4, 4, 1, 2, 2, 2, 2, 2, 0};
  Tensor x({1, 1, 4, 4}, Device::cuda), wrong({1, 1, 3, 2}, Device::cuda);
  EXPECT_THROW(gpu->max_pool_forward(x, wrong, g), Error);
}

}  // namespace
}  // namespace bioprop
