// Checkpoints as `bioprop eval` reads them: the record, the net it describes, the weights. The
// checksum would stop almost every mutation at the door, so the fuzzer mends it first (the last 4
// bytes become the CRC32 of the rest): the lies then reach the record and the weights behind it.
#include <zlib.h>

#include <cstring>
#include <vector>

#include "bioprop/trainer.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bioprop::fuzz::initialise();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bioprop;
  std::vector<uint8_t> bytes(data, data + size);
  if (bytes.size() >= 4) {
    const uint32_t crc = static_cast<uint32_t>(crc32(0L, bytes.data(), static_cast<uInt>(bytes.size() - 4)));
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  }
  const std::string path = fuzz::write_input("checkpoint.bin", bytes.data(), bytes.size());
  static const auto backend = make_cpu_backend();
  fuzz::expect_clean([&] { load_checkpoint_net(path, *backend, 1); });
  return 0;
}
