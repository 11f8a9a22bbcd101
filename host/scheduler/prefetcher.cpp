// A producer thread fills a ring of `depth` host batch buffers ahead of the trainer; next() takes
// them in order, uploads them through the backend and gives the slot back. The time next() blocks on
// an empty ring is the time training waited for data.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "bioprop/data.hpp"
#include "bioprop/profiling.hpp"

namespace bioprop {

struct Prefetcher::Impl {
  struct Slot {
    Tensor inputs, labels;
  };

  Impl(const Dataset& data_, int batch_size_, bool shuffle, uint64_t seed, int epoch, int depth)
      : data(data_),
        batch_size(batch_size_),
        order(epoch_order(data_.size(), shuffle, seed, epoch)),
        total(
            static_cast<int>((order.size() + static_cast<size_t>(batch_size_) - 1) / static_cast<size_t>(batch_size_))),
        slots(static_cast<size_t>(std::max(depth, 1))) {
    for (Slot& s : slots) {
      s.inputs = Tensor(data.images.shape().with_batch(batch_size));
      s.labels = Tensor({batch_size});
    }
    producer = std::thread([this] { produce(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    changed.notify_all();
    producer.join();
  }

  void produce() {
    for (int b = 0; b < total; ++b) {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return stopping || produced - consumed < static_cast<int>(slots.size()); });
      if (stopping) return;
      Slot& slot = slots[static_cast<size_t>(b) % slots.size()];
      lock.unlock();
      {
        ProfileRange range("prefetch: assemble batch");
        const size_t first = static_cast<size_t>(b) * static_cast<size_t>(batch_size);
        assemble_batch(data, order, first,
                       static_cast<int>(std::min(order.size() - first, static_cast<size_t>(batch_size))), slot.inputs,
                       slot.labels);
      }
      lock.lock();
      ++produced;
      changed.notify_all();
    }
  }

  const Dataset& data;
  int batch_size;
  std::vector<int> order;
  int total;
  std::vector<Slot> slots;
  std::mutex mutex;
  std::condition_variable changed;
  int produced = 0, consumed = 0;
  bool stopping = false, slot_in_use = false;
  std::thread producer;
};

Prefetcher::Prefetcher(const Dataset& data, int batch_size, bool shuffle, uint64_t seed, int epoch, int depth)
    : impl_(std::make_unique<Impl>(data, batch_size, shuffle, seed, epoch, depth)) {}

Prefetcher::~Prefetcher() = default;

int Prefetcher::batches() const { return impl_->total; }

bool Prefetcher::next(Backend& backend, Batch& batch) {
  Impl& s = *impl_;
  std::unique_lock lock(s.mutex);
  if (s.slot_in_use) {  // the previous batch has been uploaded and trained on: its slot is free again
    ++s.consumed;
    s.slot_in_use = false;
    s.changed.notify_all();
  }
  if (s.consumed >= s.total) return false;
  const auto start = std::chrono::steady_clock::now();
  s.changed.wait(lock, [&] { return s.produced > s.consumed; });
  waited_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Impl::Slot& slot = s.slots[static_cast<size_t>(s.consumed) % s.slots.size()];
  s.slot_in_use = true;
  lock.unlock();
  ProfileRange range("upload batch");
  batch.inputs = backend.to_device(slot.inputs);
  batch.labels = backend.to_device(slot.labels);
  // On the CPU the batch aliases the slot, so the slot stays taken until the next call.
  return true;
}

std::unique_ptr<BatchSource> make_batch_source(const Dataset& data, int batch_size, bool shuffle, uint64_t seed,
                                               int epoch, const Backend& backend) {
  if (backend.device() == Device::cuda) return std::make_unique<Prefetcher>(data, batch_size, shuffle, seed, epoch);
  return std::make_unique<BatchIterator>(data, batch_size, shuffle, seed, epoch);
}

}  // namespace bioprop
