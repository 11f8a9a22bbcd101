// ImageNet-style JPEG folders: the input is the one image of class "a" in both train/ and val/, read
// as `bioprop train --dataset image-folder` reads it (decoded into memory).
#include "bioprop/data.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bioprop::fuzz::initialise();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bioprop;
  fuzz::write_input("images/train/a/x.jpg", data, size);
  fuzz::write_input("images/val/a/x.jpg", data, size);
  DataRequest request;
  request.name = "image-folder";
  request.data_dir = (fuzz::scratch() / "images").string();
  fuzz::expect_clean([&] { load_dataset(request); });
  return 0;
}
