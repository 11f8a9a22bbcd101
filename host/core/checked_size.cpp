#include "bioprop/checked_size.hpp"

#include "bioprop/error.hpp"

namespace bioprop {

size_t checked_multiply(size_t a, size_t b, std::string_view what) {
  size_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) fail("{}: size {} x {} overflows", what, a, b);
  return product;
}

size_t checked_add(size_t a, size_t b, std::string_view what) {
  size_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) fail("{}: size {} + {} overflows", what, a, b);
  return sum;
}

namespace {
template <typename Int>
size_t numel_of(const std::vector<Int>& dims, std::string_view what) {
  size_t product = 1;
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    if (dims[axis] < 0) fail("{}: dimension {} is negative ({})", what, axis, dims[axis]);
    product = checked_multiply(product, static_cast<size_t>(dims[axis]), what);
  }
  checked_multiply(product, sizeof(float), what);  // its bytes must be countable too
  return dims.empty() ? 0 : product;
}
}  // namespace

size_t checked_numel(const std::vector<int>& dims, std::string_view what) { return numel_of(dims, what); }
size_t checked_numel(const std::vector<int64_t>& dims, std::string_view what) { return numel_of(dims, what); }

int checked_int_product(std::initializer_list<int64_t> factors, std::string_view what) {
  int64_t product = 1;
  for (const int64_t factor : factors) {
    if (factor < 0) fail("{}: a negative size ({})", what, factor);
    if (__builtin_mul_overflow(product, factor, &product) || product > INT32_MAX)
      fail("{}: more than {} values (the largest size bioprop indexes)", what, INT32_MAX);
  }
  return static_cast<int>(product);
}

int checked_int(int64_t value, std::string_view what, int64_t lowest, int64_t highest) {
  if (value < lowest || value > highest) fail("{}: {} is out of range [{}, {}]", what, value, lowest, highest);
  return static_cast<int>(value);
}

}  // namespace bioprop
