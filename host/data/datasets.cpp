// The dataset catalogue and the train / validation / test split.
#include <algorithm>
#include <filesystem>
#include <numeric>

#include "bioprop/data.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

Shape Dataset::sample_shape() const {
  if (files) return Shape({3, files->height, files->width});
  const auto& dims = images.shape().dims();
  return Shape(std::vector<int>(dims.begin() + 1, dims.end()));
}

Shape Dataset::batch_shape(int count) const { return sample_shape().batched(count); }

Dataset Dataset::subset(const std::vector<int>& indexes) const {
  Dataset part;
  part.name = name;
  part.classes = classes;
  part.labels = Tensor({static_cast<int>(indexes.size())});
  for (size_t i = 0; i < indexes.size(); ++i) part.labels.data()[i] = labels.data()[indexes[i]];
  if (files) {
    auto chosen = std::make_shared<ImageFiles>();
    chosen->height = files->height;
    chosen->width = files->width;
    for (int index : indexes) chosen->paths.push_back(files->paths[static_cast<size_t>(index)]);
    part.files = std::move(chosen);
    return part;
  }
  const size_t sample = images.shape().sample_size();
  part.images = Tensor(images.shape().with_batch(static_cast<int>(indexes.size())));
  for (size_t i = 0; i < indexes.size(); ++i)
    std::copy_n(images.data() + static_cast<size_t>(indexes[i]) * sample, sample, part.images.data() + i * sample);
  return part;
}

namespace {
// An idx file may be stored plain or gzip-compressed.
std::string find_idx_file(const std::filesystem::path& dir, const std::string& stem, const std::string& dataset) {
  for (const std::string& candidate : {stem, stem + ".gz"})
    if (std::filesystem::exists(dir / candidate)) return (dir / candidate).string();
  const std::string installer = dataset == "mnist" ? "scripts/fetch-mnist.sh (puts MNIST in data/mnist)"
                                                   : "scripts/install-deps.sh (Debian package dataset-fashion-mnist)";
  fail("dataset '{}': file not found: {} (nor {}.gz). Run {} or pass --data-dir with the idx files", dataset,
       (dir / stem).string(), stem, installer);
}

std::pair<Dataset, Dataset> read_idx_splits(const std::string& dir, const std::string& name) {
  auto load = [&](const std::string& prefix) {
    const std::string images = find_idx_file(dir, prefix + "-images-idx3-ubyte", name);
    const std::string labels = find_idx_file(dir, prefix + "-labels-idx1-ubyte", name);
    return read_idx_dataset(images, labels, name, 10);
  };
  return {load("train"), load("t10k")};
}

std::pair<Dataset, Dataset> read_cifar10(const std::string& dir, const std::string& name) {
  std::vector<std::string> train;
  for (int i = 1; i <= 5; ++i) train.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  return {read_cifar_dataset(train, 1, 0, 10, name), read_cifar_dataset({dir + "/test_batch.bin"}, 1, 0, 10, name)};
}

std::pair<Dataset, Dataset> read_cifar100(const std::string& dir, const std::string& name) {
  return {read_cifar_dataset({dir + "/train.bin"}, 2, 1, 100, name),
          read_cifar_dataset({dir + "/test.bin"}, 2, 1, 100, name)};
}
}  // namespace

const std::vector<DatasetInfo>& known_datasets() {
  static const std::vector<DatasetInfo> datasets = {
      {"fashion-mnist", "Fashion-MNIST, 28x28 grey clothing images, 10 classes (60k train, 10k test)",
       "/usr/share/datasets/fashion-mnist", read_idx_splits},
      {"mnist", "MNIST, 28x28 grey digits, 10 classes (60k train, 10k test); scripts/fetch-mnist.sh fetches it",
       "data/mnist", read_idx_splits},
      {"cifar10", "CIFAR-10, 32x32 colour, 10 classes (50k train, 10k test); the binary version's folder",
       "data/cifar-10-batches-bin", read_cifar10},
      {"cifar100", "CIFAR-100, 32x32 colour, 100 fine classes (50k train, 10k test); the binary version's folder",
       "data/cifar-100-binary", read_cifar100},
      {"tiny-imagenet", "Tiny ImageNet, 64x64 colour JPEGs, 200 classes (100k train; the 10k val set as test)",
       "data/tiny-imagenet-200",
       [](const std::string& dir, const std::string& name) { return read_tiny_imagenet(dir, name); }},
      {"image-folder", "ImageNet-style folders of JPEGs: <dir>/train/<class>/, <dir>/val/<class>/ (--data-dir)",
       "data/images", [](const std::string& dir, const std::string& name) { return read_image_folders(dir, name); }},
  };
  return datasets;
}

DataSplits split_dataset(const Dataset& train, Dataset test, const DataRequest& request) {
  DataSplits splits;
  splits.test = std::move(test);
  if (request.test_limit < 0) fail("test_limit {} must be >= 0", request.test_limit);
  if (request.test_limit > 0 && request.test_limit < splits.test.size()) {
    std::vector<int> first(static_cast<size_t>(request.test_limit));
    std::iota(first.begin(), first.end(), 0);
    splits.test = splits.test.subset(first);
  }
  if (request.validation < 0 || request.validation >= train.size())
    fail("validation size {} must be in [0, {})", request.validation, train.size());
  const std::vector<int> order = shuffled_indexes(train.size(), request.seed, /*stream=*/1);
  const int train_count = train.size() - request.validation;
  std::vector<int> train_indexes(order.begin(), order.begin() + train_count);
  const std::vector<int> validation_indexes(order.begin() + train_count, order.end());
  if (request.train_limit > 0 && request.train_limit < train_count) train_indexes.resize(request.train_limit);
  // Keep the file order inside each part so the split, not the storage order, is what the seed changes.
  std::sort(train_indexes.begin(), train_indexes.end());
  splits.train = train.subset(train_indexes);
  splits.validation = train.subset(validation_indexes);
  return splits;
}

DataSplits load_dataset(const DataRequest& request) try {
  const auto& datasets = known_datasets();
  auto info =
      std::find_if(datasets.begin(), datasets.end(), [&](const DatasetInfo& d) { return d.name == request.name; });
  if (info == datasets.end()) {
    std::string known;
    for (const auto& d : datasets) known += (known.empty() ? "" : ", ") + d.name;
    fail("unknown dataset '{}' (known datasets: {})", request.name, known);
  }
  const std::filesystem::path dir = request.data_dir.empty() ? info->default_dir : request.data_dir;
  auto [train, test] = info->load(dir.string(), info->name);
  return split_dataset(train, std::move(test), request);
} catch (const Error&) {
  throw;
} catch (const std::exception& e) {  // a library's exception or bad_alloc: still a clear error
  fail("{}: {}", fmt::format("dataset '{}'", request.name), e.what());
}

}  // namespace bioprop
