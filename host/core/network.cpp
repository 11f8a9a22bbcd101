#include "bioprop/network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "bioprop/distributed.hpp"
#include "bioprop/error.hpp"
#include "bioprop/profiling.hpp"

namespace bioprop {

namespace {
constexpr double gib = 1u << 30;
// Bytes to train: every parameter with its gradient and up to two optimiser or feedback copies, and
// every activation of `batch` samples with its gradient (doubles: no overflow for any input).
double training_bytes(size_t parameters, size_t activations_per_sample, int batch) {
  return (4.0 * static_cast<double>(parameters) +
          2.0 * static_cast<double>(activations_per_sample) * static_cast<double>(batch)) *
         sizeof(float);
}
}  // namespace

Network::Network(std::vector<std::unique_ptr<Layer>> layers, const Shape& sample, const Initializer& init,
                 Backend& backend, std::string name)
    : name_(std::move(name)), sample_(sample), layers_(std::move(layers)) {
  if (layers_.empty()) fail("net '{}' has no layers", name_);
  Shape shape = sample.batched(1);
  sample_shapes_.push_back(shape);
  size_t parameters = 0, activations = 0;  // values; activations per sample, for batch 1
  const size_t available = backend.memory_bytes();
  for (int i = 0; i < size(); ++i) {
    Layer& l = *layers_[static_cast<size_t>(i)];
    try {
      shape = l.build(shape, i, init, backend);
    } catch (const Error& e) {
      if (std::string_view(e.what()).starts_with("layer ")) throw;
      fail("net '{}', layer {} ({}): {}", name_, i, l.kind(), e.what());
    }
    sample_shapes_.push_back(shape);
    // Stop at the first layer that makes the net too big to train even on one sample, before the next
    // ones allocate: parameters with their gradients and optimiser state, activations with gradients.
    for (Parameter* p : l.parameters()) parameters += p->value.numel();
    activations += shape.numel();
    if (const double needed = training_bytes(parameters, activations, 1); needed > static_cast<double>(available))
      fail(
          "net '{}': with layer {} ({}) it has {} parameters and {} activations per sample, {:.2f} GiB to train: "
          "more than the {:.2f} GiB of {}",
          name_, i, l.kind(), parameters, activations, needed / gib, static_cast<double>(available) / gib,
          backend.name());
  }
  if (shape.rank() != 2)
    fail("net '{}' must end in a dense layer (N,F output), ends with shape {}", name_, shape.str());
  for (const Shape& s : sample_shapes_) {
    activations_.emplace_back(s, backend.device());
    gradients_.emplace_back(s, backend.device());
  }
  for (int i = 0; i < size(); ++i) {
    forward_ranges_.push_back(fmt::format("forward {} {}", i, layer(i).kind()));
    backward_ranges_.push_back(fmt::format("backward {} {}", i, layer(i).kind()));
  }
}

int Network::outputs() const { return sample_shapes_.back()[1]; }

const Tensor& Network::forward(Backend& backend, const Tensor& x) {
  if (x.shape().rank() != sample_.rank() + 1 || x.shape().with_batch(1) != sample_shapes_[0])
    fail("net '{}' expects inputs of shape {} (batch first), got {}", name_, sample_.batched(-1).str(),
         x.shape().str());
  const int batch = x.dim(0);
  activations_[0] = x;  // a view: the batch is not copied
  if (!repeat_draws_) ++pass_;
  bool relu_applied = false;  // by the layer before, in its own pass (Layer::forward_then_relu)
  for (size_t i = 0; i < layers_.size(); ++i) {
    Tensor& y = activations_[i + 1];
    if (runs_in_place(i)) {
      y = activations_[i];
      if (std::exchange(relu_applied, false)) continue;
    } else {
      if (y.data() == activations_[i].data()) y = Tensor();  // ran in place before: needs its own buffer again
      y.resize(sample_shapes_[i + 1].with_batch(batch), backend.device());
    }
    ProfileRange range(forward_ranges_[i].c_str());
    // A ReLU that runs in place over this layer's output may be applied as the layer writes it.
    relu_applied =
        i + 1 < layers_.size() && runs_in_place(i + 1) && layers_[i]->forward_then_relu(backend, activations_[i], y);
    if (!relu_applied) layers_[i]->forward(backend, activations_[i], y);
    add_activity_noise(backend, i);
  }
  resize_gradients(batch);
  return activations_.back();
}

bool Network::runs_in_place(size_t layer) const {
  // Never over the net's input (the caller's batch), nor with activity noise (its derivative needs a itself).
  return reuse_buffers_ && layer > 0 && layers_[layer]->activation_function() == Activation::relu &&
         !(training_ && noise_.activity > 0);
}

void Network::resize_gradients(int batch) {
  const size_t top = gradients_.size() - 1;  // the output's gradient, which rules fill, keeps its own buffer
  if (!reuse_buffers_) {
    for (size_t i = 0; i <= top; ++i) gradients_[i].resize(sample_shapes_[i].with_batch(batch));
    return;
  }
  size_t largest[2] = {0, 0};
  for (size_t i = 1; i < top; ++i) largest[i % 2] = std::max(largest[i % 2], sample_shapes_[i].numel());
  for (size_t parity = 0; parity < 2; ++parity)
    if (largest[parity] > 0)
      shared_gradients_[parity].resize(Shape{batch, static_cast<int>(largest[parity])}, gradients_[top].device());
  for (size_t i = 1; i < top; ++i)
    gradients_[i] = shared_gradients_[i % 2].front_view(sample_shapes_[i].with_batch(batch));
  gradients_[0].resize(sample_shapes_[0].with_batch(batch));
  gradients_[top].resize(sample_shapes_[top].with_batch(batch));
}

void Network::backward(Backend& backend, Pathway pathway) {
  for (int i = size() - 1; i >= 0; --i) {
    Layer& l = layer(i);
    const size_t at = static_cast<size_t>(i);
    ProfileRange range(backward_ranges_[at].c_str());
    l.backward(backend, activations_[at], activations_[at + 1], gradients_[at + 1], i > 0 ? &gradients_[at] : nullptr,
               0.0f, pathway);
    if (!l.parameters().empty()) announce_update(i);
  }
}

void Network::set_statistics_sync(Communicator* job, double share) {
  for (auto& l : layers_) l->set_statistics_sync(job, share);
}

void Network::set_first_trial(uint64_t first) {
  first_trial_ = first;
  for (auto& l : layers_) l->set_first_trial(first);
}

void start_sum_of_grads(Backend& backend, Communicator& job, const std::vector<Parameter*>& parameters, double share) {
  std::vector<Tensor*> grads;
  for (Parameter* p : parameters) {
    backend.scale(static_cast<float>(share), p->grad);
    grads.push_back(&p->grad);
  }
  backend.start_all_reduce_sum(grads, job);
}

void Network::sum_over_ranks(Backend& backend, const std::vector<Parameter*>& parameters) {
  if (!job_ || job_->size() == 1) return;
  start_sum_of_grads(backend, *job_, parameters, share_);
  backend.finish_all_reduce_sums(*job_);
}

void Network::set_training(bool training) {
  training_ = training;
  for (auto& l : layers_) l->set_training(training);
}

void Network::add_signal_noise(Backend& backend, Tensor& doutput) {
  if (!training_ || noise_.signal <= 0) return;
  noise_buffer_.resize(doutput.shape(), backend.device());
  // doutput holds e / N: noise of std `signal` on e is signal / N on doutput.
  backend.random_normal(noise_buffer_, 0.0f, noise_.signal / static_cast<float>(doutput.dim(0)), noise_.seed ^ 0x5167u,
                        noise_draws_++ << 32, first_draw(doutput));
  backend.axpy(1.0f, noise_buffer_, doutput);
}

void Network::forward_range(Backend& backend, int first, int last) {
  for (size_t i = static_cast<size_t>(first); i < static_cast<size_t>(last); ++i) {
    layers_[i]->forward(backend, activations_[i], activations_[i + 1]);
    add_activity_noise(backend, i);
  }
}

// Noise after every activation while training, from a stream keyed by the forward pass and the layer,
// so a repeated pass (or a partial one, forward_range) draws the same noise as its ordinary pass.
void Network::add_activity_noise(Backend& backend, size_t layer) {
  if (!training_ || noise_.activity <= 0 || !layers_[layer]->is_activation()) return;
  noise_buffer_.resize(activations_[layer + 1].shape(), backend.device());
  backend.random_normal(noise_buffer_, 0.0f, noise_.activity, noise_.seed ^ 0xAC71u,
                        (pass_ << 32) + (static_cast<uint64_t>(layer) << 20), first_draw(noise_buffer_));
  backend.axpy(1.0f, noise_buffer_, activations_[layer + 1]);
}

void Network::set_repeat_draws(bool repeat) {
  repeat_draws_ = repeat;
  for (auto& l : layers_) l->set_repeat_draws(repeat);
}

void Network::set_hold_statistics(bool hold) {
  hold_statistics_ = hold;
  for (auto& l : layers_) l->set_hold_statistics(hold);
}

void Network::check_fits_in_memory(int batch, const Backend& backend) {
  size_t activations = 0;
  for (const Shape& s : sample_shapes_) activations += s.numel();  // batch 1 each
  const double parameter_bytes = training_bytes(parameter_count(), 0, batch);
  const double activation_bytes = training_bytes(0, activations, batch);
  const double available = static_cast<double>(backend.memory_bytes());
  if (parameter_bytes + activation_bytes > available)
    fail(
        "net '{}' with batch {} needs about {:.2f} GiB to train ({:.2f} GiB for parameters, gradients and "
        "optimiser state, {:.2f} GiB for activations and their gradients), more than the {:.2f} GiB of {}: use a "
        "smaller net or batch",
        name_, batch, (parameter_bytes + activation_bytes) / gib, parameter_bytes / gib, activation_bytes / gib,
        available / gib, backend.name());
}

std::vector<int> Network::weighted_layers() {
  std::vector<int> indexes;
  for (int i = 0; i < size(); ++i)
    if (dynamic_cast<WeightedLayer*>(&layer(i))) indexes.push_back(i);
  return indexes;
}

StreamPositions Network::stream_positions() {
  StreamPositions all{{"noise.passes", &pass_}, {"noise.signal_draws", &noise_draws_}};
  for (int i = 0; i < size(); ++i)
    for (StreamPosition& s : layer(i).stream_positions())
      all.push_back({fmt::format("layer{}.{}", i, s.name), s.draws});
  return all;
}

std::vector<Parameter*> Network::parameters() {
  std::vector<Parameter*> all;
  for (auto& l : layers_)
    for (Parameter* p : l->parameters()) all.push_back(p);
  return all;
}

std::vector<Parameter*> Network::state() {
  std::vector<Parameter*> all;
  for (auto& l : layers_)
    for (Parameter* p : l->state()) all.push_back(p);
  return all;
}

bool Network::mixes_samples() const {
  for (const auto& l : layers_)
    if (l->mixes_samples()) return true;
  return false;
}

size_t Network::parameter_count() {
  size_t count = 0;
  for (Parameter* p : parameters()) count += p->value.numel();
  return count;
}

std::string Network::summary() {
  std::string text = fmt::format("net '{}': input {}\n", name_, sample_.str());
  for (int i = 0; i < size(); ++i) {
    size_t count = 0;
    for (Parameter* p : layer(i).parameters()) count += p->value.numel();
    text += fmt::format("  {:>2} {:<20} {:<18} -> {:<16} {:>10} params\n", i, layer(i).kind(), layer(i).settings(),
                        sample_shapes_[static_cast<size_t>(i) + 1].str(), count);
  }
  return text + fmt::format("  total {} parameters\n", parameter_count());
}

}  // namespace bioprop
