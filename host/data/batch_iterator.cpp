#include <numeric>

#include "bioprop/data.hpp"
#include "bioprop/rng.hpp"

namespace bioprop {

std::vector<int> shuffled_indexes(int n, uint64_t seed, uint64_t stream) {
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  HostRng rng(seed, stream);
  for (int i = n - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)], order[rng.below(static_cast<uint32_t>(i) + 1)]);
  return order;  // Fisher-Yates
}

BatchIterator::BatchIterator(const Dataset& data, int batch_size, bool shuffle, uint64_t seed, int epoch)
    : data_(data), batch_size_(batch_size) {
  if (shuffle) {
    order_ = shuffled_indexes(data.size(), seed, /*stream=*/100 + static_cast<uint64_t>(epoch));
  } else {
    order_.resize(static_cast<size_t>(data.size()));
    std::iota(order_.begin(), order_.end(), 0);
  }
  host_inputs_ = Tensor(data.images.shape().with_batch(batch_size));
  host_labels_ = Tensor({batch_size});
}

bool BatchIterator::next(Backend& backend, Batch& batch) {
  if (position_ >= order_.size()) return false;
  const int count = static_cast<int>(std::min<size_t>(static_cast<size_t>(batch_size_), order_.size() - position_));
  const size_t sample = data_.images.shape().sample_size();
  host_inputs_.resize(data_.images.shape().with_batch(count));
  host_labels_.resize({count});
  for (int i = 0; i < count; ++i) {
    const size_t from = static_cast<size_t>(order_[position_ + static_cast<size_t>(i)]);
    std::copy_n(data_.images.data() + from * sample, sample, host_inputs_.data() + static_cast<size_t>(i) * sample);
    host_labels_.data()[i] = data_.labels.data()[from];
  }
  position_ += static_cast<size_t>(count);
  batch.inputs = backend.to_device(host_inputs_);
  batch.labels = backend.to_device(host_labels_);
  return true;
}

}  // namespace bioprop
