#pragma once
// Sizes computed from input (a file's header, a net file, a checkpoint's record) go through these
// checks, so a number that lies ends in a bioprop::Error naming what it came from instead of a
// wrapped product, a negative dimension or a multi-gigabyte allocation. `what` names the file and
// the field, e.g. "train-images-idx3-ubyte: dimension 2".
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace bioprop {

// a * b and a + b, or an Error when the result does not fit in size_t.
size_t checked_multiply(size_t a, size_t b, std::string_view what);
size_t checked_add(size_t a, size_t b, std::string_view what);
// The number of elements of a shape: every dimension >= 0, the product within size_t, and the bytes
// of that many floats too.
size_t checked_numel(const std::vector<int>& dims, std::string_view what);
size_t checked_numel(const std::vector<int64_t>& dims, std::string_view what);
// The product of non-negative factors for a size the kernels index with int (values per sample, a
// patch, a fan-in): an Error when a factor is negative or the product exceeds INT32_MAX.
int checked_int_product(std::initializer_list<int64_t> factors, std::string_view what);
// A 64-bit value that must fit an int field in [lowest, highest].
int checked_int(int64_t value, std::string_view what, int64_t lowest = INT32_MIN, int64_t highest = INT32_MAX);

}  // namespace bioprop
