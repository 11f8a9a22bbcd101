// Tensor::write_stamp: it changes whenever the storage is handed out for writing, through any view, and
// not on reads; storages never share a stamp; memory written from outside has none (0).
#include <gtest/gtest.h>

#include <memory>

#include "bioprop/tensor.hpp"

namespace bioprop {
namespace {

TEST(TensorWriteStamp, ChangesOnWritesThroughAnyViewAndNotOnReads) {
  Tensor t({2, 3});
  const uint64_t first = t.write_stamp();
  EXPECT_NE(first, 0u);
  const Tensor& reader = t;
  (void)reader.data(), (void)reader.values(), (void)reader.at(1);
  EXPECT_EQ(t.write_stamp(), first) << "reads must not change the stamp";

  t.at(0) = 1.0f;
  const uint64_t after_at = t.write_stamp();
  EXPECT_NE(after_at, first);
  Tensor view = t.reshaped({6});
  EXPECT_EQ(view.write_stamp(), after_at) << "views share the stamp";
  view.data()[5] = 2.0f;
  EXPECT_NE(t.write_stamp(), after_at) << "a write through a view changes the stamp of the storage";
  const uint64_t before_values = t.write_stamp();
  t.values()[1] = 3.0f;
  EXPECT_NE(t.write_stamp(), before_values);
}

TEST(TensorWriteStamp, NewStorageGetsAStampNoOtherStorageHad) {
  Tensor a({4}), b({4});
  EXPECT_NE(a.write_stamp(), b.write_stamp());
  const uint64_t before = a.write_stamp();
  a.resize({400});  // reallocates
  EXPECT_NE(a.write_stamp(), before);
  EXPECT_NE(a.clone().write_stamp(), a.write_stamp());
}

TEST(TensorWriteStamp, BorrowedMemoryHasNoStamp) {
  auto owner = std::make_shared<std::array<float, 4>>();
  Tensor borrowed = Tensor::borrow({4}, Device::cpu, owner->data(), owner);
  EXPECT_EQ(borrowed.write_stamp(), 0u);
  borrowed.data()[0] = 1.0f;
  EXPECT_EQ(borrowed.write_stamp(), 0u);
}

}  // namespace
}  // namespace bioprop
