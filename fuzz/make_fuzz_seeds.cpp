// Seed corpora for the fuzzers, one folder per reader, of small valid files (a fuzzer mutates these):
// idx (plain and gzip), CIFAR records, a real checkpoint, every built-in net, the experiment files in
// configs/, and a JPEG. Usage: make_fuzz_seeds OUT_DIR SOURCE_DIR
// clang-format off
#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>
// clang-format on
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bioprop/builtin_nets.hpp"
#include "bioprop/config.hpp"
#include "bioprop/trainer.hpp"

namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string gzip(const std::string& bytes, const fs::path& scratch) {
  gzFile file = gzopen(scratch.c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
  return read(scratch);
}

// An 8 x 8 colour JPEG of a gradient, encoded by libjpeg into memory.
std::string small_jpeg() {
  jpeg_compress_struct info;
  jpeg_error_mgr errors;
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = 8;
  info.image_height = 8;
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_start_compress(&info, TRUE);
  std::vector<unsigned char> row(8 * 3);
  while (info.next_scanline < info.image_height) {
    for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<unsigned char>(i * 10 + info.next_scanline * 20);
    JSAMPROW rows[] = {row.data()};
    jpeg_write_scanlines(&info, rows, 1);
  }
  jpeg_finish_compress(&info);
  std::string bytes(reinterpret_cast<const char*>(buffer), size);
  jpeg_destroy_compress(&info);
  free(buffer);
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bioprop;
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_fuzz_seeds OUT_DIR SOURCE_DIR\n");
    return 2;
  }
  const fs::path out = argv[1], source = argv[2];
  // idx: the first byte picks the file the fuzzer replaces (even: images, odd: labels).
  const std::string images =
      std::string("\x00\x00\x08\x03\x00\x00\x00\x04\x00\x00\x00\x02\x00\x00\x00\x02", 16) + std::string(16, '\x7f');
  const std::string labels("\x00\x00\x08\x01\x00\x00\x00\x04\x00\x01\x02\x03", 12);
  write(out / "idx/images", std::string(1, '\0') + images);
  write(out / "idx/labels", std::string(1, '\1') + labels);
  write(out / "idx/images-gz", std::string(1, '\0') + gzip(images, out / "scratch.gz"));
  fs::remove(out / "scratch.gz");
  // CIFAR-10: two records (label byte, 3072 pixel bytes).
  std::string records;
  for (int r = 0; r < 2; ++r)
    records += std::string(1, static_cast<char>(r)) + std::string(3072, static_cast<char>(r * 50));
  write(out / "cifar/two-records.bin", records);
  // A real checkpoint of a small net, as `bioprop train` writes it.
  {
    auto backend = make_cpu_backend();
    const std::string toml = "[[layer]]\ntype = \"conv2d\"\nchannels = 2\nkernel = 3\nactivation = \"relu\"\n";
    auto net = build_network({"small", "small.toml", toml}, Shape({1, 6, 6}), 3, 1, *backend);
    const nlohmann::json record = {
        {"rule", "bp"}, {"net", "small"}, {"net_toml", toml}, {"dataset", "mnist"}, {"sample_shape", {1, 6, 6}},
        {"classes", 3}, {"epoch", 1},     {"bias", false}};
    fs::create_directories(out / "checkpoint");
    save_checkpoint((out / "checkpoint/small.bin").string(), *net, *backend, record);
  }
  for (const BuiltinNet& net : builtin_nets()) write(out / "net_toml" / (net.name + ".toml"), net.toml);
  for (const auto& entry : fs::directory_iterator(source / "configs"))
    if (entry.path().extension() == ".toml")
      write(out / "experiment_toml" / entry.path().filename(), read(entry.path()));
  write(out / "jpeg_folder/gradient.jpg", small_jpeg());
  return 0;
}
