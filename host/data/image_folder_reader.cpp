// Datasets stored as JPEG files: Tiny ImageNet's layout and ImageNet-style class folders. Files are
// decoded in parallel (OpenMP) into the in-memory dataset, or, for datasets too large for memory,
// listed and decoded batch by batch (assemble_batch); class indexes follow the sorted class names,
// so they do not depend on the order a file system lists folders in.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bioprop/checked_size.hpp"
#include "bioprop/data.hpp"
#include "bioprop/error.hpp"
#include "jpeg_decoder.hpp"

namespace bioprop {
namespace {

namespace fs = std::filesystem;

struct LabelledFile {
  std::string path;
  int label = 0;
};

bool is_jpeg(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".jpg" || extension == ".jpeg";
}

std::vector<fs::path> sorted_entries(const fs::path& folder, bool folders) {
  std::vector<fs::path> entries;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error))
    if (folders ? entry.is_directory() : (entry.is_regular_file() && is_jpeg(entry.path())))
      entries.push_back(entry.path());
  if (error) fail("cannot read folder {}: {}", folder.string(), error.message());
  std::sort(entries.begin(), entries.end());
  return entries;
}

void expect_folder(const fs::path& folder, const std::string& dataset) {
  if (!fs::is_directory(folder)) fail("dataset '{}': folder not found: {}", dataset, folder.string());
}

// The dataset of `files`, all of one size: height 0 takes the first image's, and images of another
// size are resized to it (bilinear). Decoded into memory when the floats fit in `in_memory_limit`
// bytes, else left on disk for the batch assembler to decode.
Dataset read_image_files(const std::vector<LabelledFile>& files, int classes, const std::string& name,
                         const std::string& where, int& height, int& width, size_t in_memory_limit) {
  if (files.empty()) fail("dataset '{}': no JPEG images in {}", name, where);
  if (height == 0) {
    const RgbImage first = decode_jpeg_file(files.front().path);
    height = first.height;
    width = first.width;
  }
  Dataset d;
  d.name = name;
  d.classes = classes;
  const int count = checked_int(static_cast<int64_t>(files.size()), where + ": number of images");
  d.labels = Tensor({count});
  auto on_disk = std::make_shared<ImageFiles>();
  on_disk->height = height;
  on_disk->width = width;
  for (size_t i = 0; i < files.size(); ++i) {
    on_disk->paths.push_back(files[i].path);
    d.labels.data()[i] = static_cast<float>(files[i].label);
  }
  const size_t bytes = checked_numel(std::vector<int>{count, 3, height, width}, where) * sizeof(float);
  if (bytes > in_memory_limit) {
    d.files = std::move(on_disk);
    return d;
  }
  d.images = Tensor({count, 3, height, width});
  decode_jpeg_files(on_disk->paths, height, width, d.images.data());
  return d;
}

}  // namespace

std::pair<Dataset, Dataset> read_tiny_imagenet(const std::string& root, const std::string& name,
                                               size_t in_memory_limit) {
  const fs::path base(root);
  const fs::path wnids_path = base / "wnids.txt";
  std::ifstream wnids_file(wnids_path);
  if (!wnids_file) fail("dataset '{}': file not found: {}", name, wnids_path.string());
  std::vector<std::string> wnids;
  for (std::string line; std::getline(wnids_file, line);) {
    const size_t end = line.find_last_not_of(" \r\t");
    if (end != std::string::npos) wnids.push_back(line.substr(0, end + 1));
  }
  std::sort(wnids.begin(), wnids.end());
  std::map<std::string, int> label_of;
  for (size_t i = 0; i < wnids.size(); ++i) label_of[wnids[i]] = static_cast<int>(i);

  std::vector<LabelledFile> train;
  for (const std::string& wnid : wnids) {
    const fs::path images = base / "train" / wnid / "images";
    expect_folder(images, name);
    for (const fs::path& file : sorted_entries(images, false)) train.push_back({file.string(), label_of[wnid]});
  }
  // The test labels are not public: the validation set (val/images, labelled in val_annotations.txt)
  // serves as the test set, as in the BrainProp reference code.
  const fs::path annotations_path = base / "val" / "val_annotations.txt";
  std::ifstream annotations(annotations_path);
  if (!annotations) fail("dataset '{}': file not found: {}", name, annotations_path.string());
  std::vector<LabelledFile> test;
  int line_number = 0;
  for (std::string line; std::getline(annotations, line);) {
    ++line_number;
    std::istringstream fields(line);
    std::string file, wnid;
    if (!(fields >> file >> wnid)) continue;
    auto label = label_of.find(wnid);
    if (label == label_of.end())
      fail("{}: line {}: class '{}' is not in wnids.txt", annotations_path.string(), line_number, wnid);
    test.push_back({(base / "val" / "images" / file).string(), label->second});
  }
  int height = 0, width = 0;
  const int classes = static_cast<int>(wnids.size());
  Dataset train_set = read_image_files(train, classes, name, (base / "train").string(), height, width, in_memory_limit);
  Dataset test_set = read_image_files(test, classes, name, annotations_path.string(), height, width, in_memory_limit);
  return {std::move(train_set), std::move(test_set)};
}

std::pair<Dataset, Dataset> read_image_folders(const std::string& root, const std::string& name,
                                               size_t in_memory_limit) {
  const fs::path base(root);
  expect_folder(base / "train", name);
  std::vector<std::string> classes;
  for (const fs::path& folder : sorted_entries(base / "train", true)) classes.push_back(folder.filename().string());
  if (classes.empty()) fail("dataset '{}': no class folders in {}", name, (base / "train").string());
  fs::path test_root = base / "val";
  if (!fs::is_directory(test_root)) test_root = base / "test";
  expect_folder(test_root, name);
  auto list = [&](const fs::path& split) {
    std::vector<LabelledFile> files;
    for (size_t c = 0; c < classes.size(); ++c)
      if (fs::is_directory(split / classes[c]))
        for (const fs::path& file : sorted_entries(split / classes[c], false))
          files.push_back({file.string(), static_cast<int>(c)});
    return files;
  };
  int height = 0, width = 0;
  const int count = static_cast<int>(classes.size());
  Dataset train_set =
      read_image_files(list(base / "train"), count, name, (base / "train").string(), height, width, in_memory_limit);
  Dataset test_set = read_image_files(list(test_root), count, name, test_root.string(), height, width, in_memory_limit);
  return {std::move(train_set), std::move(test_set)};
}

}  // namespace bioprop
