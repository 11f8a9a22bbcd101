#include "bioprop/tensor.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <numeric>

#include <fmt/ranges.h>

#include "bioprop/device_memory.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

std::string to_string(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

// Checked: shapes come from files (idx headers, checkpoints, net files), and a negative dimension or a
// product that wraps must be an error, not a small allocation that is then overrun.
size_t Shape::numel() const {
  if (dims_.empty()) return 0;
  size_t product = 1;
  for (const int d : dims_)
    if (d < 0 || __builtin_mul_overflow(product, static_cast<size_t>(d), &product))
      fail("tensor shape {}: {}", str(), d < 0 ? "a negative dimension" : "the element count overflows");
  return product;
}

size_t Shape::sample_size() const { return dims_.empty() || dims_[0] == 0 ? 0 : numel() / dims_[0]; }

Shape Shape::with_batch(int batch) const {
  std::vector<int> dims = dims_;
  dims.at(0) = batch;
  return Shape(std::move(dims));
}

Shape Shape::batched(int count) const {
  std::vector<int> dims{count};
  dims.insert(dims.end(), dims_.begin(), dims_.end());
  return Shape(std::move(dims));
}

std::string Shape::str() const { return fmt::format("({})", fmt::join(dims_, ",")); }

size_t host_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  size_t bytes = pages > 0 && page_size > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page_size) : SIZE_MAX;
  // BIOPROP_MEMORY_LIMIT_MIB: a smaller budget (a shared machine; the fuzzers, which must not exhaust theirs).
  if (const char* limit = std::getenv("BIOPROP_MEMORY_LIMIT_MIB"))
    if (const long long mib = std::atoll(limit); mib > 0) bytes = std::min(bytes, static_cast<size_t>(mib) << 20);
  return bytes;
}

namespace {
std::shared_ptr<float> allocate(Device device, size_t count) {
  if (device == Device::cuda) return cuda_allocate_floats(count);
  // A size read from a file that lies must not end in bad_alloc or in the kernel's OOM killer.
  if (count > host_memory_bytes() / 2 / sizeof(float))
    fail("cannot hold {} floats ({:.1f} GiB) in one tensor: more than half this machine's memory ({:.1f} GiB)", count,
         static_cast<double>(count) * sizeof(float) / (1u << 30),
         static_cast<double>(host_memory_bytes()) / (1u << 30));
  // 64-byte alignment keeps SIMD loads aligned at the start of every buffer.
  auto* raw = static_cast<float*>(::operator new[](std::max<size_t>(count, 1) * sizeof(float), std::align_val_t{64}));
  std::fill_n(raw, count, 0.0f);
  return {raw, [](float* p) { ::operator delete[](p, std::align_val_t{64}); }};
}
}  // namespace

uint64_t Tensor::next_write_stamp() {
  static std::atomic<uint64_t> last{0};
  return 2 * (last.fetch_add(1, std::memory_order_relaxed) + 1);
}

std::shared_ptr<std::atomic<uint64_t>> Tensor::new_stamp() {
  return std::make_shared<std::atomic<uint64_t>>(next_write_stamp());
}

Tensor::Tensor(const Shape& shape, Device device)
    : shape_(shape),
      device_(device),
      capacity_(shape.numel()),
      storage_(allocate(device, shape.numel())),
      stamp_(new_stamp()) {}

Tensor Tensor::from(const Shape& shape, std::span<const float> values) {
  if (values.size() != shape.numel()) fail("Tensor::from: {} values for shape {}", values.size(), shape.str());
  Tensor t(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::pinned_host(const Shape& shape) {
  Tensor t;
  t.shape_ = shape;
  t.capacity_ = shape.numel();
  t.storage_ = cuda_allocate_pinned_floats(shape.numel());
  return t;
}

Tensor Tensor::borrow(const Shape& shape, Device device, float* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.shape_ = shape;
  t.device_ = device;
  t.capacity_ = shape.numel();
  t.storage_ = std::shared_ptr<float>(std::move(owner), data);  // aliasing: shares the owner's lifetime
  return t;
}

std::span<float> Tensor::values() {
  if (device_ != Device::cpu) fail("host view of a {} tensor", to_string(device_));
  note_write();
  return {storage_.get(), numel()};
}

std::span<const float> Tensor::values() const {
  if (device_ != Device::cpu) fail("host view of a {} tensor", to_string(device_));
  return {storage_.get(), numel()};
}

void Tensor::resize(const Shape& shape, Device device) {
  if (device != device_) {
    device_ = device;
    capacity_ = 0;
  }
  resize(shape);
}

void Tensor::resize(const Shape& shape) {
  if (shape.numel() > capacity_ || !storage_) {
    storage_ = allocate(device_, shape.numel());
    stamp_ = new_stamp();
    capacity_ = shape.numel();
  }
  shape_ = shape;
}

Tensor Tensor::reshaped(const Shape& shape) const {
  if (shape.numel() != numel()) fail("cannot reshape {} to {}", shape_.str(), shape.str());
  Tensor view = *this;
  view.shape_ = shape;
  return view;
}

Tensor Tensor::front_view(const Shape& shape) const {
  if (shape.numel() > capacity_ || !storage_)
    fail("a view of shape {} does not fit in a buffer of {} values", shape.str(), capacity_);
  Tensor view = *this;
  view.shape_ = shape;
  view.capacity_ = shape.numel();  // a resize past the view's own size gives it storage of its own
  return view;
}

Tensor Tensor::clone() const {
  Tensor copy(shape_, device_);
  if (device_ == Device::cpu)
    std::copy_n(data(), numel(), copy.data());
  else
    cuda_copy_device_to_device(copy.data(), data(), numel());
  return copy;
}

}  // namespace bioprop
