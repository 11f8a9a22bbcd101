// The idx reader: plain and gzip files, and a clear error for every kind of bad file.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "bioprop/data.hpp"
#include "bioprop/error.hpp"
#include "error_message.hpp"
#include "temporary_folder.hpp"

namespace bioprop {
namespace {

namespace fs = std::filesystem;

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

class IdxReader : public ::testing::Test {
 protected:
  std::string images(int count, int rows, int cols) {
    std::string bytes = big_endian(0x803) + big_endian(count) + big_endian(rows) + big_endian(cols);
    for (int i = 0; i < count * rows * cols; ++i) bytes += static_cast<char>(i % 256);
    return bytes;
  }
  std::string labels(const std::vector<int>& values) {
    std::string bytes = big_endian(0x801) + big_endian(static_cast<uint32_t>(values.size()));
    for (int v : values) bytes += static_cast<char>(v);
    return bytes;
  }
  std::string write(const std::string& name, const std::string& bytes, bool gzip = false) {
    const fs::path path = dir / name;
    if (gzip) {
      gzFile file = gzopen(path.c_str(), "wb");
      gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
      gzclose(file);
    } else {
      std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    return path.string();
  }
  static std::string error_of(const std::function<void()>& f) { return testing::error_of(f); }
  testing::TemporaryFolder folder{"bioprop-idx-"};
  const fs::path& dir = folder.path();
};

TEST_F(IdxReader, ReadsPlainAndGzipFiles) {
  for (bool gzip : {false, true}) {
    const std::string x = write("x", images(3, 2, 4), gzip), y = write("y", labels({0, 9, 4}), gzip);
    const Dataset data = read_idx_dataset(x, y, "test", 10);
    ASSERT_EQ(data.images.shape(), (Shape{3, 1, 2, 4}));
    EXPECT_FLOAT_EQ(data.images.at(5), 5.0f / 255.0f);
    EXPECT_EQ(data.labels.at(1), 9.0f);
    EXPECT_EQ(data.sample_shape(), (Shape{1, 2, 4}));
  }
}

TEST_F(IdxReader, MissingFileNamesThePath) {
  const std::string y = write("y", labels({1}));
  EXPECT_NE(error_of([&] { read_idx_dataset((dir / "nope").string(), y, "t", 10); }).find("cannot open dataset file"),
            std::string::npos);
}

TEST_F(IdxReader, WrongMagicNumber) {
  const std::string x = write("x", labels({1, 2})), y = write("y", labels({1, 2}));
  const std::string message = error_of([&] { read_idx_dataset(x, y, "t", 10); });
  EXPECT_NE(message.find(x + ": not an idx file of 3 dimension(s)"), std::string::npos) << message;
  EXPECT_NE(message.find("0x00000801, expected 0x00000803"), std::string::npos) << message;
}

TEST_F(IdxReader, TruncatedData) {
  std::string bytes = images(4, 3, 3);
  bytes.resize(bytes.size() - 5);
  const std::string x = write("x.gz", bytes, true), y = write("y", labels({1, 2, 3, 4}));
  const std::string message = error_of([&] { read_idx_dataset(x, y, "t", 10); });
  EXPECT_NE(message.find(x + ": truncated: the file ends after 31 of 36 bytes of the data"), std::string::npos)
      << message;
}

TEST_F(IdxReader, CountsThatDisagree) {
  const std::string x = write("x", images(3, 2, 2)), y = write("y", labels({1, 2}));
  EXPECT_NE(error_of([&] { read_idx_dataset(x, y, "t", 10); }).find("holds 2 labels but"), std::string::npos);
}

TEST_F(IdxReader, LabelOutOfRange) {
  const std::string x = write("x", images(2, 2, 2)), y = write("y", labels({1, 12}));
  EXPECT_NE(error_of([&] { read_idx_dataset(x, y, "t", 10); }).find("label 12 of image 1"), std::string::npos);
}

TEST_F(IdxReader, DatasetFolderWithoutFiles) {
  DataRequest request;
  request.data_dir = dir.string();
  const std::string message = error_of([&] { load_dataset(request); });
  EXPECT_NE(message.find("file not found: " + (dir / "train-images-idx3-ubyte").string()), std::string::npos)
      << message;
}

TEST_F(IdxReader, SplitAndLimitAreDeterministic) {
  for (const char* prefix : {"train", "t10k"}) {
    write(std::string(prefix) + "-images-idx3-ubyte", images(20, 2, 2));
    write(std::string(prefix) + "-labels-idx1-ubyte", labels(std::vector<int>(20, 3)));
  }
  DataRequest request;
  request.data_dir = dir.string();
  request.validation = 5;
  request.train_limit = 8;
  const DataSplits a = load_dataset(request), b = load_dataset(request);
  EXPECT_EQ(a.train.size(), 8);
  EXPECT_EQ(a.validation.size(), 5);
  EXPECT_EQ(a.test.size(), 20);
  for (size_t i = 0; i < a.train.images.numel(); ++i) ASSERT_EQ(a.train.images.at(i), b.train.images.at(i));
  request.test_limit = 7;  // the first 7 test images, in file order
  const DataSplits limited = load_dataset(request);
  EXPECT_EQ(limited.test.size(), 7);
  for (size_t i = 0; i < limited.test.images.numel(); ++i) ASSERT_EQ(limited.test.images.at(i), a.test.images.at(i));
  request.test_limit = -1;
  EXPECT_THROW(load_dataset(request), Error);
  request.test_limit = 0;
  request.validation = 20;
  EXPECT_THROW(load_dataset(request), Error);
}

TEST_F(IdxReader, MissingMnistNamesItsFetchScript) {
  DataRequest request;
  request.name = "mnist";
  request.data_dir = dir.string();
  const std::string message = error_of([&] { load_dataset(request); });
  EXPECT_NE(message.find("scripts/fetch-mnist.sh"), std::string::npos) << message;
}

}  // namespace
}  // namespace bioprop
