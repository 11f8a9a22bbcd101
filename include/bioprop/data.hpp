#pragma once
// Datasets held in host memory, and the batches cut from them. The background prefetching scheduler
// of DESIGN.md section 5 builds on BatchIterator (issue 4).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bioprop/augmentation.hpp"
#include "bioprop/backend.hpp"
#include "bioprop/rule.hpp"

namespace bioprop {

// Images that stay on disk and are decoded when a batch needs them (datasets too large to hold in
// memory as floats): JPEG files, each resized to height x width, 3 channels.
struct ImageFiles {
  std::vector<std::string> paths;
  int height = 0, width = 0;
};

struct Dataset {
  std::string name;
  Tensor images;                            // (N, C, H, W), values in [0, 1]; empty when `files` is set
  std::shared_ptr<const ImageFiles> files;  // the samples on disk, decoded on demand
  Tensor labels;                            // (N), class indexes as floats
  int classes = 0;
  int size() const { return labels.empty() ? 0 : labels.dim(0); }
  // Shape of one sample, without the batch axis, and of a batch of `count` samples.
  Shape sample_shape() const;
  Shape batch_shape(int count) const;
  // The samples at `indexes`, in that order.
  Dataset subset(const std::vector<int>& indexes) const;
};

struct DatasetInfo {
  std::string name;
  std::string description;
  std::string default_dir;  // where the files are looked for without --data-dir
  // Reads the training and test sets from a folder (the dataset's name is for messages).
  std::function<std::pair<Dataset, Dataset>(const std::string& dir, const std::string& name)> load;
};
const std::vector<DatasetInfo>& known_datasets();

struct DataSplits {
  Dataset train, validation, test;
};

// Images (JPEG) whose header claims more pixels than this are refused before they are decoded, so a
// hostile file cannot make bioprop allocate gigabytes. The default takes any camera photo (ImageNet's
// largest are about 10 megapixels); `--max-image-pixels` changes it for the process.
constexpr size_t default_max_image_pixels = size_t{64} << 20;
void set_max_image_pixels(size_t pixels);
size_t max_image_pixels();

struct DataRequest {
  std::string name = "fashion-mnist";
  std::string data_dir;  // empty: the dataset's default folder
  int validation = 0;    // training images held out (chosen by seed) for validation
  int train_limit = 0;   // >0: use only this many training images (after the split)
  int test_limit = 0;    // >0: evaluate on only the first this many test images (quick runs)
  uint64_t seed = 0;
};
// Loads train and test sets; throws Error naming the file for a missing, corrupt or truncated file.
DataSplits load_dataset(const DataRequest& request);
// The training set cut into training and validation parts (by the request's seed) and the test set limited, as
// `request` asks (its name and folder are not used): what load_dataset does with the sets it reads.
DataSplits split_dataset(const Dataset& train, Dataset test, const DataRequest& request);

// Reads an idx image file and its label file (plain or gzip-compressed; Y. LeCun's MNIST format).
Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path, const std::string& name,
                         int classes);

// CIFAR binary files (CIFAR-10: 1 label byte per record; CIFAR-100: 2, the fine label at index 1),
// concatenated in order; pixels scaled to [0, 1].
Dataset read_cifar_dataset(const std::vector<std::string>& paths, int label_bytes, int label_index, int classes,
                           const std::string& name);
// Image datasets whose float pixels would take more than this stay on disk and are decoded per batch.
constexpr size_t default_in_memory_limit_bytes = size_t{4} << 30;
// Tiny ImageNet (tiny-imagenet-200): wnids.txt, train/<wnid>/images/*.JPEG, and val/ with
// val_annotations.txt as the test set. Classes in sorted wnid order.
std::pair<Dataset, Dataset> read_tiny_imagenet(const std::string& root, const std::string& name,
                                               size_t in_memory_limit = default_in_memory_limit_bytes);
// ImageNet-style folders: root/train/<class>/*.jpg and root/val/<class>/*.jpg (or root/test/...);
// classes in sorted folder-name order; every image is resized to the first training image's size.
std::pair<Dataset, Dataset> read_image_folders(const std::string& root, const std::string& name,
                                               size_t in_memory_limit = default_in_memory_limit_bytes);

// A permutation of [0, n) drawn from (seed, stream): deterministic on every platform.
std::vector<int> shuffled_indexes(int n, uint64_t seed, uint64_t stream);

// The order of the samples of one epoch: a seeded permutation when shuffling, else 0..n-1.
std::vector<int> epoch_order(int n, bool shuffle, uint64_t seed, int epoch);
// Copies the samples order[first, first + count) of `data` into host batch tensors (decoding them, on
// all cores, when the dataset is on disk).
void assemble_batch(const Dataset& data, const std::vector<int>& order, size_t first, int count, Tensor& inputs,
                    Tensor& labels);

// One epoch of batches, in order.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills `batch` with the next batch on the backend's device; false at the end of the epoch.
  virtual bool next(Backend& backend, Batch& batch) = 0;
  virtual int batches() const = 0;
  // Seconds next() spent waiting for data that was not ready.
  virtual double waited_seconds() const { return 0.0; }
};

// Cuts a dataset into batches, in a seeded random order when shuffle is set. The last batch may be
// smaller. Batches are staged in reused host buffers, augmented there if asked, and moved to the
// backend's device.
class BatchIterator final : public BatchSource {
 public:
  // Starts at batch `first_batch` of the epoch (a run resumed mid-epoch); the batches are the same.
  BatchIterator(const Dataset& data, int batch_size, bool shuffle, uint64_t seed, int epoch,
                const Augmentation& augmentation = {}, int first_batch = 0);
  bool next(Backend& backend, Batch& batch) override;
  int batches() const override { return (static_cast<int>(order_.size()) + batch_size_ - 1) / batch_size_; }

 private:
  const Dataset& data_;
  int batch_size_;
  uint64_t seed_;
  int epoch_;
  Augmentation augmentation_;
  std::vector<int> order_;
  size_t position_ = 0;
  Tensor host_inputs_, host_labels_;
};

// The streaming scheduler (DESIGN.md section 5): a background thread assembles the next batches into
// a ring of `depth` host staging buffers (pinned on a GPU) while the current one trains, and the
// upload of batch k + 1 runs on the backend's copy stream while batch k trains (two device buffers,
// events). It yields exactly the batches BatchIterator yields, and measures how long training waited
// for data. `backend` must outlive it and be the one passed to next().
// For GPU training: on a CPU the producer thread takes cycles from the compute threads (15% slower on
// 2 cores, measured), so CPU runs use BatchIterator (see make_batch_source).
class Prefetcher final : public BatchSource {
 public:
  Prefetcher(const Dataset& data, int batch_size, bool shuffle, uint64_t seed, int epoch, Backend& backend,
             int depth = 3, const Augmentation& augmentation = {}, int first_batch = 0);
  ~Prefetcher();  // stops the producer, even mid-epoch
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  bool next(Backend& backend, Batch& batch) override;
  int batches() const override;
  double waited_seconds() const override { return waited_seconds_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  double waited_seconds_ = 0.0;
};

// The batch source for training on `backend`: the Prefetcher on a GPU, BatchIterator on the CPU.
// It yields batches first_batch, first_batch + 1, ... of the epoch; batches() counts them all.
std::unique_ptr<BatchSource> make_batch_source(const Dataset& data, int batch_size, bool shuffle, uint64_t seed,
                                               int epoch, Backend& backend, const Augmentation& augmentation = {},
                                               int first_batch = 0);

}  // namespace bioprop
