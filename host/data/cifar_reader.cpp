// CIFAR-10 / CIFAR-100 binary version (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size
// records of label byte(s) then 3072 pixel bytes, the red, green and blue 32x32 planes in turn.
// CIFAR-10 records have one label byte; CIFAR-100 records a coarse and a fine label byte.
#include <filesystem>
#include <fstream>

#include "bioprop/data.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

Dataset read_cifar_dataset(const std::vector<std::string>& paths, int label_bytes, int label_index, int classes,
                           const std::string& name) {
  constexpr size_t pixels = 3 * 32 * 32;
  const size_t record = static_cast<size_t>(label_bytes) + pixels;
  size_t total = 0;
  for (const std::string& path : paths) {
    std::error_code error;
    const auto bytes = std::filesystem::file_size(path, error);
    if (error) fail("dataset '{}': file not found: {}", name, path);
    if (bytes == 0 || bytes % record != 0)
      fail("{}: corrupt or truncated: {} bytes is not a whole number of {}-byte CIFAR records", path, bytes, record);
    total += bytes / record;
  }
  Dataset d;
  d.name = name;
  d.classes = classes;
  d.images = Tensor({static_cast<int>(total), 3, 32, 32});
  d.labels = Tensor({static_cast<int>(total)});
  std::vector<unsigned char> buffer(record);
  size_t n = 0;
  for (const std::string& path : paths) {
    std::ifstream file(path, std::ios::binary);
    if (!file) fail("cannot open dataset file {}", path);
    while (file.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(record))) {
      const int label = buffer[static_cast<size_t>(label_index)];
      if (label >= classes) fail("{}: record {} has label {}, but the dataset has {} classes", path, n, label, classes);
      d.labels.at(n) = static_cast<float>(label);
      float* image = d.images.data() + n * pixels;
      for (size_t i = 0; i < pixels; ++i) image[i] = buffer[static_cast<size_t>(label_bytes) + i] / 255.0f;
      ++n;
    }
  }
  if (n != total) fail("dataset '{}': read {} records, expected {}", name, n, total);
  return d;
}

}  // namespace bioprop
