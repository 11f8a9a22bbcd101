// Net files: parsed and built for Fashion-MNIST-shaped samples (1, 28, 28) and 10 classes.
#include "bioprop/config.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bioprop::fuzz::initialise();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bioprop;
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const auto backend = make_cpu_backend();
  fuzz::expect_clean([&] {
    auto net = build_network({"fuzz", "fuzz.toml", text}, Shape({1, 28, 28}), 10, 1, *backend, NetOverrides{});
    net->check_fits_in_memory(2, *backend);
  });
  return 0;
}
