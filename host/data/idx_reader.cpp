// idx files (http://yann.lecun.com/exdb/mnist/): big-endian magic 0x0000080D (D = number of dims),
// D big-endian uint32 sizes, then unsigned bytes. zlib's gzread reads plain and .gz files alike.
#include <zlib.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "bioprop/checked_size.hpp"
#include "bioprop/data.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

namespace {

struct IdxFile {
  std::vector<int> dims;
  std::vector<unsigned char> bytes;
};

IdxFile read_idx(const std::string& path, int expected_dims) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
  if (!file) fail("cannot open dataset file {}", path);
  auto read_exactly = [&](void* out, size_t count, const char* what) {
    size_t done = 0;
    while (done < count) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(count - done, 1u << 30));
      const int got = gzread(file.get(), static_cast<char*>(out) + done, chunk);
      if (got < 0) fail("{}: corrupt file while reading {} (zlib: {})", path, what, gzerror(file.get(), nullptr));
      if (got == 0) fail("{}: truncated: the file ends after {} of {} bytes of {}", path, done, count, what);
      done += static_cast<size_t>(got);
    }
  };
  auto big_endian = [](const unsigned char* b) {
    return static_cast<uint32_t>(b[0]) << 24 | static_cast<uint32_t>(b[1]) << 16 | static_cast<uint32_t>(b[2]) << 8 |
           b[3];
  };
  unsigned char header[4];
  read_exactly(header, 4, "the header");
  const uint32_t magic = big_endian(header);
  const uint32_t expected_magic = 0x0800u | static_cast<uint32_t>(expected_dims);
  if (magic != expected_magic)
    fail("{}: not an idx file of {} dimension(s) of unsigned bytes: magic number 0x{:08x}, expected 0x{:08x}", path,
         expected_dims, magic, expected_magic);
  IdxFile idx;
  size_t total = 1;
  for (int d = 0; d < expected_dims; ++d) {
    read_exactly(header, 4, "the header");
    const uint32_t size = big_endian(header);
    if (size == 0 || size > (1u << 28)) fail("{}: implausible size {} in dimension {}", path, size, d);
    idx.dims.push_back(static_cast<int>(size));
    total = checked_multiply(total, size, path + ": the header's sizes");
  }
  checked_numel(idx.dims, path + ": the header's sizes");  // as floats, too
  // The header's sizes are a claim: a plain file's length is checked against them before anything is
  // allocated, and a gzip file (whose length says nothing) is read in bounded chunks, so a lying header
  // costs at most the bytes the file really holds.
  const size_t header_bytes = 4 + 4 * static_cast<size_t>(expected_dims);
  if (gzdirect(file.get())) {
    std::error_code error;
    const uintmax_t length = std::filesystem::file_size(path, error);
    if (!error && length < header_bytes + total)
      fail("{}: truncated: the header declares {} bytes of data, the file holds {}", path, total,
           length - header_bytes);
  }
  constexpr size_t chunk = size_t{16} << 20;
  for (size_t done = 0; done < total;) {
    const size_t count = std::min(chunk, total - done);
    idx.bytes.resize(done + count);
    read_exactly(idx.bytes.data() + done, count, "the data");
    done += count;
  }
  return idx;
}

}  // namespace

Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path, const std::string& name,
                         int classes) {
  const IdxFile images = read_idx(images_path, 3);
  const IdxFile labels = read_idx(labels_path, 1);
  if (labels.dims[0] != images.dims[0])
    fail("{} holds {} labels but {} holds {} images", labels_path, labels.dims[0], images_path, images.dims[0]);
  Dataset data;
  data.name = name;
  data.classes = classes;
  data.images = Tensor({images.dims[0], 1, images.dims[1], images.dims[2]});
  data.labels = Tensor({labels.dims[0]});
  float* pixels = data.images.data();
  for (size_t i = 0; i < images.bytes.size(); ++i) pixels[i] = static_cast<float>(images.bytes[i]) / 255.0f;
  for (size_t i = 0; i < labels.bytes.size(); ++i) {
    if (labels.bytes[i] >= classes)
      fail("{}: label {} of image {} is not a class in [0, {})", labels_path, labels.bytes[i], i, classes);
    data.labels.data()[i] = static_cast<float>(labels.bytes[i]);
  }
  return data;
}

}  // namespace bioprop
