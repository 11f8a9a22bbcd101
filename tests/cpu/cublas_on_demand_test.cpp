// cuBLAS is loaded on demand (cuda/cublas_on_demand.cpp, issue 18's memory): a CPU run never maps
// libcublasLt, whose image was 61 MiB of every run's resident memory; the first cuBLAS call loads it.
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "bioprop/backend.hpp"

namespace bioprop {
namespace {

bool mapped(const std::string& library) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (line.find(library) != std::string::npos) return true;
  return false;
}

TEST(CublasOnDemand, ACpuRunDoesNotMapCublasAndTheFirstCallLoadsIt) {
  auto cpu = make_cpu_backend();
  Tensor a(Shape{4, 3}), b(Shape{3, 2}), c(Shape{4, 2});
  cpu->gemm(false, false, 1.0f, a, b, 0.0f, c);
  EXPECT_FALSE(mapped("libcublas")) << "cuBLAS was loaded before any cuBLAS call";
  // The library's own status text ("success"); ours would say why loading failed.
  const std::string text = cublasGetStatusString(CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(text.find("could not be loaded"), std::string::npos) << text;
  EXPECT_TRUE(mapped("libcublasLt.so")) << "the first cuBLAS call did not load the library";
}

}  // namespace
}  // namespace bioprop
