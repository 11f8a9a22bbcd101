// Experiment files (configs/*.toml), as `bioprop train --config` reads them.
#include "bioprop/config.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bioprop::fuzz::initialise();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bioprop;
  const std::string path = bioprop::fuzz::write_input("experiment.toml", data, size);
  fuzz::expect_clean([&] { load_train_config(path); });
  return 0;
}
