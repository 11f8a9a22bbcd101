#include "data_parallel.hpp"

#include <algorithm>
#include <cstring>

namespace bioprop {

namespace {
// Rows [first, first + count) of a (N, ...) host tensor.
Tensor rows_of(const Tensor& host, int first, int count) {
  const size_t row = host.numel() / static_cast<size_t>(std::max(1, host.dim(0)));
  Tensor out(host.shape().with_batch(count));
  if (count > 0)
    std::memcpy(out.data(), host.data() + row * static_cast<size_t>(first),
                row * static_cast<size_t>(count) * sizeof(float));
  return out;
}
}  // namespace

void take_share(const Batch& global, const Share& share, Backend& backend, Batch& out) {
  const bool on_host = backend.device() == Device::cpu;
  const Tensor inputs = on_host ? global.inputs : backend.to_host(global.inputs);
  const Tensor labels = on_host ? global.labels : backend.to_host(global.labels);
  out.inputs = backend.to_device(rows_of(inputs, share.first, share.count));
  out.labels = backend.to_device(rows_of(labels, share.first, share.count));
}

void UpdateSums::layer_ready(Layer& layer) {
  std::vector<Parameter*> bucket;
  for (Parameter* p : layer.parameters()) {
    const auto at = std::find(unsent_.begin(), unsent_.end(), p);
    if (at == unsent_.end()) continue;  // not trained (ELM's hidden layers) or sent already
    bucket.push_back(p);
    unsent_.erase(at);
  }
  if (bucket.empty()) return;
  start_sum_of_grads(backend_, communicator_, bucket, share_);
  ++early_;
}

void UpdateSums::finish() {
  if (!unsent_.empty()) start_sum_of_grads(backend_, communicator_, unsent_, share_);
  unsent_.clear();
  backend_.finish_all_reduce_sums(communicator_);
}

void average_values(Communicator& communicator, const std::vector<Parameter*>& parameters, Backend& backend) {
  std::vector<Tensor*> values;
  for (Parameter* p : parameters) values.push_back(&p->value);
  backend.all_reduce_sum(values, communicator);
  for (Parameter* p : parameters) backend.scale(1.0f / static_cast<float>(communicator.size()), p->value);
}

}  // namespace bioprop
