#include <algorithm>
#include <numeric>

#include "bioprop/data.hpp"
#include "bioprop/error.hpp"
#include "bioprop/rng.hpp"
#include "jpeg_decoder.hpp"

namespace bioprop {

std::vector<int> shuffled_indexes(int n, uint64_t seed, uint64_t stream) {
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  HostRng rng(seed, stream);
  for (int i = n - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)], order[rng.below(static_cast<uint32_t>(i) + 1)]);
  return order;  // Fisher-Yates
}

std::vector<int> epoch_order(int n, bool shuffle, uint64_t seed, int epoch) {
  if (shuffle) return shuffled_indexes(n, seed, /*stream=*/100 + static_cast<uint64_t>(epoch));
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

void assemble_batch(const Dataset& data, const std::vector<int>& order, size_t first, int count, Tensor& inputs,
                    Tensor& labels) {
  inputs.resize(data.batch_shape(count));
  labels.resize({count});
  const size_t sample = inputs.shape().sample_size();
  for (int i = 0; i < count; ++i) labels.data()[i] = data.labels.data()[order[first + static_cast<size_t>(i)]];
  if (data.files) {  // decode the batch's files on all cores (the producer thread's OpenMP team)
    std::vector<std::string> paths;
    for (int i = 0; i < count; ++i)
      paths.push_back(data.files->paths[static_cast<size_t>(order[first + static_cast<size_t>(i)])]);
    decode_jpeg_files(paths, data.files->height, data.files->width, inputs.data());
    return;
  }
  for (int i = 0; i < count; ++i) {
    const size_t from = static_cast<size_t>(order[first + static_cast<size_t>(i)]);
    std::copy_n(data.images.data() + from * sample, sample, inputs.data() + static_cast<size_t>(i) * sample);
  }
}

BatchIterator::BatchIterator(const Dataset& data, int batch_size, bool shuffle, uint64_t seed, int epoch,
                             const Augmentation& augmentation, int first_batch)
    : data_(data),
      batch_size_(batch_size),
      seed_(seed),
      epoch_(epoch),
      augmentation_(augmentation),
      order_(epoch_order(data.size(), shuffle, seed, epoch)) {
  if (first_batch < 0) fail("BatchIterator: first batch {} < 0", first_batch);
  position_ = std::min(order_.size(), static_cast<size_t>(first_batch) * static_cast<size_t>(batch_size));
  host_inputs_ = Tensor(data.batch_shape(batch_size));
  host_labels_ = Tensor({batch_size});
}

bool BatchIterator::next(Backend& backend, Batch& batch) {
  if (position_ >= order_.size()) return false;
  const int count = static_cast<int>(std::min<size_t>(static_cast<size_t>(batch_size_), order_.size() - position_));
  assemble_batch(data_, order_, position_, count, host_inputs_, host_labels_);
  augment_batch(augmentation_, host_inputs_, seed_, epoch_, position_);
  position_ += static_cast<size_t>(count);
  batch.inputs = backend.to_device(host_inputs_);
  batch.labels = backend.to_device(host_labels_);
  return true;
}

}  // namespace bioprop
