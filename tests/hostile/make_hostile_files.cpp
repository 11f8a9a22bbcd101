// Writes the hostile files of issue 20 into a folder, one per class of lie a file can tell, for
// tests/hostile/hostile_files.sh to feed to the real `bioprop` command. Each must end in exit status 1
// with a message naming the file and the field: no crash, no "internal error", no silent success.
// Checkpoints are written with a valid checksum, so the lie is in the record itself.
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// An idx file header with these sizes, then `data` bytes.
std::string idx(const std::vector<uint32_t>& dims, size_t data) {
  std::string bytes = big_endian(0x0800u | static_cast<uint32_t>(dims.size()));
  for (uint32_t d : dims) bytes += big_endian(d);
  return bytes + std::string(data, '\0');
}

// A checkpoint (format 3) holding `record` and `values` floats, with a correct CRC32.
std::string checkpoint(const nlohmann::json& record, size_t values) {
  const std::string text = record.dump();
  std::string bytes = "BIOPROP-CKPT-3\n";
  const uint64_t length = text.size();
  bytes.append(reinterpret_cast<const char*>(&length), sizeof length);
  bytes += text + std::string(values * sizeof(float), '\0');
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
  bytes.append(reinterpret_cast<const char*>(&crc), sizeof crc);
  return bytes;
}

// A JPEG whose frame header (SOF0) claims width x height pixels, with no image data behind it.
std::string jpeg_claiming(uint16_t width, uint16_t height) {
  std::string b = "\xFF\xD8";                                                        // start of image
  b += std::string("\xFF\xC0\x00\x11\x08", 5);                                       // SOF0, length 17, 8 bits
  b += {static_cast<char>(height >> 8), static_cast<char>(height)};                  // lines
  b += {static_cast<char>(width >> 8), static_cast<char>(width)};                    // samples per line
  b += std::string("\x03\x01\x11\x00\x02\x11\x00\x03\x11\x00", 10);                  // 3 components, 1x1, table 0
  b += std::string("\xFF\xDA\x00\x0C\x03\x01\x00\x02\x00\x03\x00\x00\x3F\x00", 14);  // start of scan
  b += std::string(64, '\0') + "\xFF\xD9";                                           // a few bytes, end of image
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const fs::path out = argv[1];
  fs::remove_all(out);
  const std::string labels = idx({10}, 10);

  // idx: a 16-byte header that claims 60000 images of 16384 x 16384 (16 TB).
  write(out / "idx-huge/train-images-idx3-ubyte", idx({60000, 16384, 16384}, 0));
  write(out / "idx-huge/train-labels-idx1-ubyte", idx({60000}, 60000));
  // idx: sizes whose product wraps to 0 in 64 bits (256 x 2^28 x 2^28).
  write(out / "idx-wrap/train-images-idx3-ubyte", idx({256, 1u << 28, 1u << 28}, 256));
  write(out / "idx-wrap/train-labels-idx1-ubyte", idx({256}, 256));

  // Checkpoints: a valid record of a 1-unit dense net on 4 inputs, then each lie.
  const nlohmann::json good = {{"rule", "bp"},
                               {"net", "tiny"},
                               {"net_toml", "[[layer]]\ntype = \"dense\"\nunits = 1\n"},
                               {"dataset", "fashion-mnist"},
                               {"sample_shape", {1, 2, 2}},
                               {"classes", 10},
                               {"epoch", 1},
                               {"bias", false},
                               {"parameters",
                                {{{"name", "layer0.dense.weights"}, {"shape", {1, 4}}},
                                 {{"name", "layer1.dense.weights"}, {"shape", {10, 1}}}}}};
  auto with = [&](const std::string& pointer, const nlohmann::json& value) {
    nlohmann::json r = good;
    r[nlohmann::json::json_pointer(pointer)] = value;
    return r;
  };
  auto without = [&](const std::string& key) {
    nlohmann::json r = good;
    r.erase(key);
    return r;
  };
  write(out / "checkpoint-negative-dimension.bin", checkpoint(with("/parameters/0/shape/1", -4), 14));
  write(out / "checkpoint-huge-dimension.bin", checkpoint(with("/parameters/0/shape", {2000000000, 2000000000}), 14));
  write(out / "checkpoint-missing-net.bin", checkpoint(without("net_toml"), 14));
  write(out / "checkpoint-wrong-type.bin", checkpoint(with("/classes", "ten"), 14));
  write(out / "checkpoint-float-for-int.bin", checkpoint(with("/classes", 1e308), 14));
  write(out / "checkpoint-parameters-not-a-list.bin", checkpoint(with("/parameters", 7), 14));

  // Net files.
  write(out / "net-huge-padding.toml",
        "[[layer]]\ntype = \"conv2d\"\nchannels = 4\nkernel = 3\npadding = 2000000000\n");
  write(out / "net-units-overflow.toml", "[[layer]]\ntype = \"dense\"\nunits = 4294967297\n");
  write(out / "net-huge-dense.toml", "[[layer]]\ntype = \"dense\"\nunits = 2000000000\n");
  write(out / "net-huge-kernel-product.toml", "[[layer]]\ntype = \"conv2d\"\nchannels = 2000000000\nkernel = 3\n");
  // An experiment file whose epochs do not fit an int.
  write(out / "experiment-epochs-overflow.toml", "epochs = 4294967297\n");

  // An image folder whose only training JPEG (139 bytes) claims 63996 x 8193 pixels.
  write(out / "jpeg-huge/train/cat/claims-a-lot.jpg", jpeg_claiming(63996, 8193));
  write(out / "jpeg-huge/val/cat/claims-a-lot.jpg", jpeg_claiming(63996, 8193));
  return 0;
}
