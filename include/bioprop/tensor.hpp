#pragma once
// Tensor: float32 values with a shape (N,F or N,C,H,W), on one device, with shared owning storage.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace bioprop {

enum class Device { cpu, cuda };
std::string to_string(Device device);
// The machine's physical memory, or BIOPROP_MEMORY_LIMIT_MIB if smaller: no host tensor may take more
// than half of it.
size_t host_memory_bytes();

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int> dims) : dims_(dims) {}
  explicit Shape(std::vector<int> dims) : dims_(std::move(dims)) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  int operator[](int axis) const { return dims_.at(static_cast<size_t>(axis)); }
  const std::vector<int>& dims() const { return dims_; }
  size_t numel() const;
  // The shape with the leading (batch) axis replaced.
  Shape with_batch(int batch) const;
  // This shape as one sample, with a batch axis of `count` in front: (C,H,W) -> (count,C,H,W).
  Shape batched(int count) const;
  // Number of values per sample: the product of every axis but the first.
  size_t sample_size() const;
  bool operator==(const Shape&) const = default;
  std::string str() const;

 private:
  std::vector<int> dims_;
};

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled tensor.
  explicit Tensor(const Shape& shape, Device device = Device::cpu);
  static Tensor from(const Shape& shape, std::span<const float> values);
  // A host tensor in page-locked memory (needs a CUDA driver): asynchronous uploads can read it.
  static Tensor pinned_host(const Shape& shape);
  // A tensor over memory someone else owns (an array handed in from Python), without a copy: `owner` keeps
  // that memory alive as long as any tensor shares it, and is released with the last one.
  static Tensor borrow(const Shape& shape, Device device, float* data, std::shared_ptr<void> owner);

  const Shape& shape() const { return shape_; }
  int dim(int axis) const { return shape_[axis]; }
  size_t numel() const { return shape_.numel(); }
  Device device() const { return device_; }
  bool empty() const { return numel() == 0; }

  float* data() {
    note_write();
    return storage_.get();
  }
  const float* data() const { return storage_.get(); }
  // Host views; only valid on the CPU. The writable one (and at()) counts as a write, as data() does.
  std::span<float> values();
  std::span<const float> values() const;
  float& at(size_t i) { return values()[i]; }
  float at(size_t i) const { return values()[i]; }

  // Changes the shape; reallocates only when the new shape needs more room than the storage has,
  // so buffers sized for the largest batch are reused by every smaller one.
  void resize(const Shape& shape);
  // The same on `device`: a buffer that lived elsewhere (or nowhere yet) moves to it.
  void resize(const Shape& shape, Device device);
  // A view of the same storage with another shape of the same size.
  Tensor reshaped(const Shape& shape) const;
  // A view of the first shape.numel() values of this tensor's storage, with that shape: buffers that
  // take turns in one larger allocation (Network's shared gradient buffers).
  Tensor front_view(const Shape& shape) const;
  Tensor clone() const;

  // A number that changes whenever this storage is handed out for writing (the non-const data(), values(),
  // at(), through any view of it) after the number was last read; 0 for memory written from outside (borrowed
  // arrays, page-locked upload buffers), whose changes it cannot see. Stamps are unique across all storages, so
  // the same data() with the same nonzero stamp means the same values: CpuBackend keeps oneDNN's blocked copy of
  // a convolution's input from the forward pass for the weight gradient by it (issue 18).
  uint64_t write_stamp() const {
    // The low bit marks a stamp that was read: only then must the next write draw a new one, so loops that
    // write through data() again and again cost one load each.
    return stamp_ ? stamp_->fetch_or(1, std::memory_order_relaxed) | 1 : 0;
  }
  // Expires with this storage (when no view of it is left), so a cache can drop what it keeps for it.
  std::weak_ptr<const void> storage_lifetime() const { return stamp_; }

 private:
  void note_write() {
    if (stamp_ && (stamp_->load(std::memory_order_relaxed) & 1))
      stamp_->store(next_write_stamp(), std::memory_order_relaxed);
  }
  // A new even number.
  static uint64_t next_write_stamp();
  static std::shared_ptr<std::atomic<uint64_t>> new_stamp();

  Shape shape_;
  Device device_ = Device::cpu;
  size_t capacity_ = 0;
  std::shared_ptr<float> storage_;
  std::shared_ptr<std::atomic<uint64_t>> stamp_;  // shared by every view of storage_
};

}  // namespace bioprop
