// The idx reader (MNIST / Fashion-MNIST files, plain or gzip): the first byte picks which of the two
// files the rest of the input replaces; the other is a valid file of 4 images of 2 x 2.
#include "bioprop/data.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bioprop::fuzz::initialise();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bioprop;
  if (size < 1) return 0;
  static const uint8_t images[] = {0, 0, 8, 3, 0, 0, 0, 4, 0, 0,  0,  2,  0,  0,  0,  2,
                                   1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  static const uint8_t labels[] = {0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 2, 3};
  const bool fuzz_images = data[0] % 2 == 0;
  const std::string images_path = fuzz_images ? fuzz::write_input("images", data + 1, size - 1)
                                              : fuzz::write_input("images", images, sizeof images);
  const std::string labels_path = fuzz_images ? fuzz::write_input("labels", labels, sizeof labels)
                                              : fuzz::write_input("labels", data + 1, size - 1);
  fuzz::expect_clean([&] { read_idx_dataset(images_path, labels_path, "fuzz", 10); });
  return 0;
}
