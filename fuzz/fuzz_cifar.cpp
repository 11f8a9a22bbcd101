// The CIFAR binary reader: the input is one data batch file of CIFAR-10 (or CIFAR-100 when its
// length is a multiple of 3074 records, to reach both label layouts).
#include "bioprop/data.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bioprop::fuzz::initialise();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bioprop;
  const std::string path = fuzz::write_input("data_batch_1.bin", data, size);
  const bool hundred = size > 0 && size % 3074 == 0;
  fuzz::expect_clean([&] { read_cifar_dataset({path}, hundred ? 2 : 1, hundred ? 1 : 0, hundred ? 100 : 10, "fuzz"); });
  return 0;
}
