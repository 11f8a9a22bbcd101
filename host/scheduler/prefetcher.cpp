// The streaming scheduler. A producer thread fills a ring of `depth` host staging buffers (page-locked
// on a GPU) ahead of the trainer. Uploads are double-buffered on the device: when next() hands out
// batch k it has already queued the upload of batch k + 1 on the backend's copy stream, so that copy
// runs while the compute stream trains on batch k (Backend::upload_async / use_upload: events, no
// device-wide synchronisation). A host buffer goes back to the producer once its upload has read it.
// The time next() blocks on a batch the producer has not assembled yet is the time training waited
// for data.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "bioprop/data.hpp"
#include "bioprop/error.hpp"
#include "bioprop/profiling.hpp"

namespace bioprop {

struct Prefetcher::Impl {
  struct HostSlot {
    Tensor inputs, labels;
  };
  struct DeviceSlot {
    Tensor inputs, labels;
  };

  Impl(const Dataset& data_, int batch_size_, bool shuffle, uint64_t seed_, int epoch_, int depth, Backend& backend_,
       const Augmentation& augmentation_, int first_batch)
      : data(data_),
        batch_size(batch_size_),
        seed(seed_),
        epoch(epoch_),
        augmentation(augmentation_),
        backend(backend_),
        order(epoch_order(data_.size(), shuffle, seed_, epoch_)),
        all(static_cast<int>((order.size() + static_cast<size_t>(batch_size_) - 1) / static_cast<size_t>(batch_size_))),
        skipped(std::clamp(first_batch, 0, all)),
        total(all - skipped),
        slots(static_cast<size_t>(std::max(depth, 2))) {
    for (HostSlot& s : slots) {
      s.inputs = backend.staging_tensor(data.batch_shape(batch_size));
      s.labels = backend.staging_tensor({batch_size});
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
    // Uploads still in flight read host buffers that are about to be freed.
    for (int slot = 0; slot < 2; ++slot) backend.wait_upload_read(slot);
  }

  void produce() {
    for (int b = 0; b < total; ++b) {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return stopping || produced - released < static_cast<int>(slots.size()); });
      if (stopping) return;
      HostSlot& slot = slots[static_cast<size_t>(b) % slots.size()];
      lock.unlock();
      try {
        ProfileRange range("prefetch: assemble batch");
        const size_t first = static_cast<size_t>(skipped + b) * static_cast<size_t>(batch_size);
        assemble_batch(data, order, first,
                       static_cast<int>(std::min(order.size() - first, static_cast<size_t>(batch_size))), slot.inputs,
                       slot.labels);
        augment_batch(augmentation, slot.inputs, seed, epoch, first);
      } catch (...) {  // a file that cannot be decoded: the trainer's thread rethrows it
        lock.lock();
        error = std::current_exception();
        changed.notify_all();
        return;
      }
      lock.lock();
      ++produced;
      changed.notify_all();
    }
  }

  // Queues the upload of batch b into device slot b % 2, once the producer has assembled it; returns
  // the seconds spent waiting for the producer.
  double start_upload(int b) {
    std::unique_lock lock(mutex);
    const auto start = std::chrono::steady_clock::now();
    changed.wait(lock, [&] { return produced > b || error; });
    if (produced <= b) std::rethrow_exception(error);
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    lock.unlock();
    ProfileRange range("upload batch (async)");
    const HostSlot& host = slots[static_cast<size_t>(b) % slots.size()];
    DeviceSlot& device = device_slots[b % 2];
    device.inputs.resize(host.inputs.shape(), backend.device());
    device.labels.resize(host.labels.shape(), backend.device());
    backend.upload_async(host.inputs, device.inputs, b % 2);
    backend.upload_async(host.labels, device.labels, b % 2);
    return waited;
  }

  // Gives batch b's host buffer back to the producer once its upload has read it.
  void release(int b) {
    backend.wait_upload_read(b % 2);
    std::lock_guard lock(mutex);
    ++released;
    changed.notify_all();
  }

  const Dataset& data;
  int batch_size;
  uint64_t seed;
  int epoch;
  Augmentation augmentation;
  Backend& backend;
  std::vector<int> order;
  int all;      // batches in the epoch
  int skipped;  // batches before the first one this source yields (a run resumed mid-epoch)
  int total;    // batches it yields; b below counts from the first of them
  std::vector<HostSlot> slots;
  DeviceSlot device_slots[2];
  std::mutex mutex;
  std::condition_variable changed;
  int produced = 0, released = 0, handed = 0;
  bool stopping = false;
  std::exception_ptr error;  // what stopped the producer, rethrown by next()
  std::thread producer;
};

Prefetcher::Prefetcher(const Dataset& data, int batch_size, bool shuffle, uint64_t seed, int epoch, Backend& backend,
                       int depth, const Augmentation& augmentation, int first_batch)
    : impl_(std::make_unique<Impl>(data, batch_size, shuffle, seed, epoch, depth, backend, augmentation, first_batch)) {
}

Prefetcher::~Prefetcher() = default;

int Prefetcher::batches() const { return impl_->all; }

bool Prefetcher::next(Backend& backend, Batch& batch) {
  Impl& s = *impl_;
  if (&backend != &s.backend) fail("Prefetcher::next: called with another backend than it was made for");
  const int k = s.handed;
  if (k > 0 && s.released < k) s.release(k - 1);  // its upload was queued a step ago: long finished
  if (k >= s.total) return false;
  if (k == 0) waited_seconds_ += s.start_upload(0);
  backend.use_upload(k % 2);  // the compute stream waits for batch k's copy, the host does not
  batch.inputs = s.device_slots[k % 2].inputs;
  batch.labels = s.device_slots[k % 2].labels;
  // Batch k + 1 travels while batch k trains: its copy waits on the device for the work queued so far,
  // which includes the last use of its device slot (batch k - 1).
  if (k + 1 < s.total) waited_seconds_ += s.start_upload(k + 1);
  ++s.handed;
  return true;
}

std::unique_ptr<BatchSource> make_batch_source(const Dataset& data, int batch_size, bool shuffle, uint64_t seed,
                                               int epoch, Backend& backend, const Augmentation& augmentation,
                                               int first_batch) {
  if (backend.device() == Device::cuda)
    return std::make_unique<Prefetcher>(data, batch_size, shuffle, seed, epoch, backend, 3, augmentation, first_batch);
  return std::make_unique<BatchIterator>(data, batch_size, shuffle, seed, epoch, augmentation, first_batch);
}

}  // namespace bioprop
