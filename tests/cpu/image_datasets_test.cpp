// The CIFAR, Tiny ImageNet and image-folder readers on small files written here: shapes, labels,
// pixel values and channel order, resizing, and the messages for missing or corrupt files.
#include <gtest/gtest.h>

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>
// clang-format on

#include <filesystem>
#include <fstream>

#include "bioprop/data.hpp"
#include "error_message.hpp"
#include "temporary_folder.hpp"

namespace bioprop {
namespace {

namespace fs = std::filesystem;
using testing::error_of;

class ImageDatasets : public ::testing::Test {
 protected:
  // CIFAR records: label byte(s), then red, green and blue planes; pixel (c, i) = (label * 3 + c) mod 256.
  void write_cifar(const std::string& name, const std::vector<std::vector<int>>& labels) {
    std::ofstream file(dir / name, std::ios::binary);
    for (const auto& record : labels) {
      for (int l : record) file.put(static_cast<char>(l));
      for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 1024; ++i) file.put(static_cast<char>((record.back() * 3 + c + i % 2) % 256));
    }
  }

  // A height x width JPEG of one colour (grey when channels is 1), at quality 100.
  void write_jpeg(const fs::path& path, int height, int width, int channels, const unsigned char* colour) {
    fs::create_directories(path.parent_path());
    FILE* file = std::fopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    jpeg_compress_struct info;
    jpeg_error_mgr errors;
    info.err = jpeg_std_error(&errors);
    jpeg_create_compress(&info);
    jpeg_stdio_dest(&info, file);
    info.image_width = static_cast<JDIMENSION>(width);
    info.image_height = static_cast<JDIMENSION>(height);
    info.input_components = channels;
    info.in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, 100, TRUE);
    jpeg_start_compress(&info, TRUE);
    std::vector<unsigned char> row(static_cast<size_t>(width * channels));
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) row[static_cast<size_t>(x * channels + c)] = colour[c];
    while (info.next_scanline < info.image_height) {
      JSAMPROW pointer = row.data();
      jpeg_write_scanlines(&info, &pointer, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    std::fclose(file);
  }

  static void expect_colour(const Dataset& d, int index, const unsigned char* rgb) {
    const size_t plane = d.images.shape().sample_size() / 3;
    for (size_t c = 0; c < 3; ++c)
      for (size_t p = 0; p < plane; p += plane / 7 + 1)
        ASSERT_NEAR(d.images.at(static_cast<size_t>(index) * 3 * plane + c * plane + p), rgb[c] / 255.0f, 3.0f / 255)
            << "image " << index << " channel " << c << " pixel " << p;
  }

  testing::TemporaryFolder folder{"bioprop-images-"};
  const fs::path& dir = folder.path();
};

TEST_F(ImageDatasets, Cifar10ReadsFiveTrainingBatchesAndTheTestBatch) {
  for (int b = 1; b <= 5; ++b) write_cifar("data_batch_" + std::to_string(b) + ".bin", {{b}, {9}});
  write_cifar("test_batch.bin", {{7}});
  const DataSplits splits = load_dataset({"cifar10", dir.string()});
  ASSERT_EQ(splits.train.images.shape(), (Shape{10, 3, 32, 32}));
  ASSERT_EQ(splits.test.size(), 1);
  EXPECT_EQ(splits.train.classes, 10);
  EXPECT_EQ(splits.train.labels.at(0), 1.0f);
  EXPECT_EQ(splits.train.labels.at(9), 9.0f);
  EXPECT_EQ(splits.test.labels.at(0), 7.0f);
  // Planes in order R, G, B; bytes scaled to [0, 1].
  const Tensor& x = splits.test.images;
  EXPECT_FLOAT_EQ(x.at(0), 21.0f / 255);
  EXPECT_FLOAT_EQ(x.at(1), 22.0f / 255);
  EXPECT_FLOAT_EQ(x.at(1024), 22.0f / 255);
  EXPECT_FLOAT_EQ(x.at(2048), 23.0f / 255);
}

TEST_F(ImageDatasets, Cifar100UsesTheFineLabel) {
  write_cifar("train.bin", {{3, 42}, {19, 99}});
  write_cifar("test.bin", {{0, 5}});
  const DataSplits splits = load_dataset({"cifar100", dir.string()});
  EXPECT_EQ(splits.train.classes, 100);
  EXPECT_EQ(splits.train.labels.at(0), 42.0f);
  EXPECT_EQ(splits.train.labels.at(1), 99.0f);
  EXPECT_EQ(splits.test.labels.at(0), 5.0f);
}

TEST_F(ImageDatasets, TruncatedOrMissingCifarFilesAreNamed) {
  write_cifar("train.bin", {{3, 42}});
  write_cifar("test.bin", {{0, 5}});
  std::ofstream(dir / "train.bin", std::ios::app).put('x');
  EXPECT_EQ(error_of([&] {
              load_dataset({"cifar100", dir.string()});
            }),
            (dir / "train.bin").string() +
                ": corrupt or truncated: 3075 bytes is not a whole number of 3074-byte CIFAR records");
  EXPECT_EQ(error_of([&] {
              load_dataset({"cifar10", dir.string()});
            }),
            "dataset 'cifar10': file not found: " + dir.string() + "/data_batch_1.bin");
}

TEST_F(ImageDatasets, TinyImageNetLayoutWithTheValidationSetAsTest) {
  const unsigned char red[3] = {200, 30, 40}, blue[3] = {20, 40, 220}, grey[1] = {128};
  std::ofstream(dir / "wnids.txt") << "n02\nn01\n";  // classes follow the sorted ids: n01 = 0, n02 = 1
  write_jpeg(dir / "train/n01/images/a.JPEG", 8, 8, 3, red);
  write_jpeg(dir / "train/n01/images/b.JPEG", 8, 8, 1, grey);
  write_jpeg(dir / "train/n02/images/c.JPEG", 8, 8, 3, blue);
  write_jpeg(dir / "val/images/v0.JPEG", 8, 8, 3, blue);
  write_jpeg(dir / "val/images/v1.JPEG", 8, 8, 3, red);
  std::ofstream(dir / "val/val_annotations.txt") << "v0.JPEG\tn02\t0\t0\t7\t7\nv1.JPEG\tn01\t0\t0\t7\t7\n";
  const DataSplits splits = load_dataset({"tiny-imagenet", dir.string()});
  ASSERT_EQ(splits.train.images.shape(), (Shape{3, 3, 8, 8}));
  EXPECT_EQ(splits.train.classes, 2);
  EXPECT_EQ(splits.train.labels.at(0), 0.0f);
  EXPECT_EQ(splits.train.labels.at(2), 1.0f);
  expect_colour(splits.train, 0, red);
  const unsigned char grey_rgb[3] = {128, 128, 128};
  expect_colour(splits.train, 1, grey_rgb);  // a grey JPEG gives three equal channels
  expect_colour(splits.train, 2, blue);
  ASSERT_EQ(splits.test.size(), 2);
  EXPECT_EQ(splits.test.labels.at(0), 1.0f);
  EXPECT_EQ(splits.test.labels.at(1), 0.0f);
  expect_colour(splits.test, 1, red);
}

TEST_F(ImageDatasets, ImageFoldersResizeToTheFirstImage) {
  const unsigned char green[3] = {30, 180, 60}, white[3] = {250, 250, 250};
  write_jpeg(dir / "train/cat/1.jpg", 6, 10, 3, green);
  write_jpeg(dir / "train/dog/2.jpeg", 12, 4, 3, white);
  std::ofstream(dir / "train/dog/notes.txt") << "not an image";  // skipped
  write_jpeg(dir / "val/dog/3.jpg", 3, 3, 3, white);
  const DataSplits splits = load_dataset({"image-folder", dir.string()});
  ASSERT_EQ(splits.train.images.shape(), (Shape{2, 3, 6, 10}));
  ASSERT_EQ(splits.test.images.shape(), (Shape{1, 3, 6, 10}));
  EXPECT_EQ(splits.train.classes, 2);
  expect_colour(splits.train, 1, white);
  EXPECT_EQ(splits.test.labels.at(0), 1.0f);
  expect_colour(splits.test, 0, white);
}

TEST_F(ImageDatasets, CorruptJpegOrMissingFolderIsNamed) {
  const unsigned char green[3] = {30, 180, 60};
  write_jpeg(dir / "train/cat/1.jpg", 6, 10, 3, green);
  EXPECT_EQ(error_of([&] {
              load_dataset({"image-folder", dir.string()});
            }),
            "dataset 'image-folder': folder not found: " + (dir / "test").string());
  fs::create_directories(dir / "val/cat");
  std::ofstream(dir / "val/cat/broken.jpg") << "this is not a JPEG";
  EXPECT_EQ(error_of([&] {
              load_dataset({"image-folder", dir.string()});
            }).rfind((dir / "val/cat/broken.jpg").string() + ": not a readable JPEG image (", 0),
            0u);
}

// A dataset over the in-memory limit stays on disk: the same batches, decoded when they are assembled
// (by BatchIterator on the trainer's thread or by the Prefetcher's producer), and a file that turns out
// to be corrupt stops the run with its name instead of killing the producer thread.
TEST_F(ImageDatasets, LargeFolderDatasetsStreamFromDisk) {
  const unsigned char colours[4][3] = {{200, 30, 40}, {20, 40, 220}, {90, 90, 90}, {10, 200, 10}};
  for (int i = 0; i < 4; ++i) {
    write_jpeg(dir / ("train/c" + std::to_string(i % 2)) / (std::to_string(i) + ".jpg"), 5, 7, 3, colours[i]);
    write_jpeg(dir / ("val/c" + std::to_string(i % 2)) / (std::to_string(i) + ".jpg"), 5, 7, 3, colours[i]);
  }
  const auto [in_memory, unused] = read_image_folders(dir.string(), "folders");
  const auto [on_disk, test_on_disk] = read_image_folders(dir.string(), "folders", /*in_memory_limit=*/0);
  ASSERT_FALSE(in_memory.files);
  ASSERT_TRUE(on_disk.files);
  EXPECT_TRUE(on_disk.images.empty());
  EXPECT_EQ(on_disk.sample_shape(), (Shape{3, 5, 7}));
  const Dataset part = on_disk.subset({3, 1});
  EXPECT_EQ(part.size(), 2);
  auto backend = make_cpu_backend();
  BatchIterator from_memory(in_memory, 3, true, 5, 1);
  Prefetcher from_disk(on_disk, 3, true, 5, 1, *backend);
  Batch expected, actual;
  int batches = 0;
  while (from_memory.next(*backend, expected)) {
    ASSERT_TRUE(from_disk.next(*backend, actual));
    ASSERT_EQ(actual.inputs.shape(), expected.inputs.shape());
    for (size_t i = 0; i < expected.inputs.numel(); ++i) ASSERT_EQ(actual.inputs.at(i), expected.inputs.at(i));
    for (size_t i = 0; i < expected.labels.numel(); ++i) ASSERT_EQ(actual.labels.at(i), expected.labels.at(i));
    ++batches;
  }
  EXPECT_EQ(batches, 2);

  std::ofstream(dir / "train/c1/3.jpg", std::ios::trunc) << "broken";
  Prefetcher broken(on_disk, 4, false, 0, 1, *backend);
  EXPECT_EQ(error_of([&] { broken.next(*backend, actual); }).rfind((dir / "train/c1/3.jpg").string(), 0), 0u);
}

}  // namespace
}  // namespace bioprop
