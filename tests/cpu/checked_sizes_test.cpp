// Sizes from input go through checked arithmetic (issue 20): overflow, negative dimensions and
// out-of-range record fields are Errors naming what they came from, never wrapped values.
#include <gtest/gtest.h>

#include <climits>

#include "bioprop/checked_size.hpp"
#include "bioprop/error.hpp"
#include "bioprop/json_fields.hpp"
#include "bioprop/tensor.hpp"
#include "error_message.hpp"

namespace bioprop {
namespace {

using testing::error_of;

TEST(CheckedSize, ProductsThatWrapAreErrorsNamingTheirSource) {
  // 256 x 2^28 x 2^28 = 2^64: wraps to 0 unchecked (an idx header that loads as 256 empty images).
  EXPECT_EQ(error_of([] {
              checked_numel(std::vector<int>{256, 1 << 28, 1 << 28}, "f.idx: sizes");
            }),
            "f.idx: sizes: size 68719476736 x 268435456 overflows");
  EXPECT_EQ(error_of([] { checked_multiply(SIZE_MAX, 2, "m"); }), "m: size 18446744073709551615 x 2 overflows");
  EXPECT_EQ(error_of([] { checked_add(SIZE_MAX, 1, "a"); }), "a: size 18446744073709551615 + 1 overflows");
}

TEST(CheckedSize, NumelChecksTheBytesAndNegativeDimensions) {
  EXPECT_EQ(checked_numel(std::vector<int>{2, 3, 4}, "x"), 24u);
  EXPECT_EQ(checked_numel(std::vector<int>{}, "x"), 0u);
  EXPECT_EQ(error_of([] {
              checked_numel(std::vector<int>{3, -1}, "f.bin shape");
            }),
            "f.bin shape: dimension 1 is negative (-1)");
  // 2^30 x 2^30 x 2^4 elements fit in 64 bits, their 4-byte floats do not.
  EXPECT_NE(error_of([] {
              checked_numel(std::vector<int64_t>{1 << 30, 1 << 30, 16}, "f.idx: sizes");
            }).find("f.idx: sizes: size"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              checked_numel(std::vector<int64_t>{INT32_MAX, INT32_MAX, INT32_MAX}, "w");
            }).find("overflows"),
            std::string::npos);
}

TEST(CheckedSize, IntProductsStayWithinWhatKernelsIndex) {
  EXPECT_EQ(checked_int_product({4, 26, 26}, "out"), 2704);
  EXPECT_EQ(error_of([] {
              checked_int_product({2000000000, 26, 26}, "layer 0 (conv2d): output values per sample");
            }),
            "layer 0 (conv2d): output values per sample: more than 2147483647 values (the largest size bioprop "
            "indexes)");
  EXPECT_EQ(error_of([] { checked_int_product({4, -2}, "k"); }), "k: a negative size (-2)");
  EXPECT_EQ(error_of([] { checked_int(4294967297, "units"); }),
            "units: 4294967297 is out of range [-2147483648, 2147483647]");
}

TEST(CheckedSize, ShapesRefuseNegativeAndWrappingDimensions) {
  EXPECT_EQ(Shape({2, 3}).numel(), 6u);
  EXPECT_EQ(error_of([] { (void)Shape({4, -1}).numel(); }), "tensor shape (4,-1): a negative dimension");
  EXPECT_EQ(error_of([] {
              (void)Shape({INT_MAX, INT_MAX, INT_MAX, INT_MAX}).numel();
            }),
            "tensor shape (2147483647,2147483647,2147483647,2147483647): the element count overflows");
  EXPECT_NE(error_of([] {
              Tensor huge({1 << 30, 1 << 30});
            }).find("more than half this machine's memory"),
            std::string::npos);
}

TEST(JsonFields, PresenceTypeAndRangeAreCheckedNamingTheField) {
  const nlohmann::json record = nlohmann::json::parse(
      R"({"epoch": 3, "big": 4294967297, "negative": -1, "huge": 1e308, "name": "x", "flag": true})");
  EXPECT_EQ(json_field<int>(record, "epoch", "c.bin"), 3);
  EXPECT_EQ(json_field<int64_t>(record, "big", "c.bin"), 4294967297);
  EXPECT_EQ(json_field<std::string>(record, "name", "c.bin"), "x");
  EXPECT_TRUE(json_field<bool>(record, "flag", "c.bin"));
  EXPECT_EQ(json_field_or<int>(record, "absent", 7, "c.bin"), 7);
  EXPECT_EQ(error_of([&] { json_field<int>(record, "absent", "c.bin"); }), "c.bin: field 'absent' is missing");
  EXPECT_EQ(error_of([&] { json_field<int>(record, "big", "c.bin"); }),
            "c.bin: field 'big' = 4294967297 is out of range [-2147483648, 2147483647]");
  EXPECT_EQ(error_of([&] { json_field<uint64_t>(record, "negative", "c.bin"); }),
            "c.bin: field 'negative' = -1 is out of range [0, 18446744073709551615]");
  EXPECT_EQ(error_of([&] { json_field<int>(record, "huge", "c.bin"); }),
            "c.bin: field 'huge' must be an integer, got 1e+308");
  EXPECT_EQ(error_of([&] { json_field<int>(record, "name", "c.bin"); }),
            "c.bin: field 'name' must be an integer, got \"x\"");
  EXPECT_EQ(error_of([&] { json_field<std::string>(record, "epoch", "c.bin"); }),
            "c.bin: field 'epoch' must be a string, got 3");
  EXPECT_EQ(error_of([&] { json_field<int>(nlohmann::json::array(), "epoch", "c.bin"); }),
            "c.bin: expected a JSON object holding 'epoch', got array");
  // A record built in memory holds its integers signed: the range is checked on that path too.
  const nlohmann::json built = {{"steps", int64_t{5000000000}}};
  EXPECT_EQ(error_of([&] { json_field<int>(built, "steps", "c.bin"); }),
            "c.bin: field 'steps' = 5000000000 is out of range [-2147483648, 2147483647]");
}

}  // namespace
}  // namespace bioprop
