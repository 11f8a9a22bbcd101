// The streaming scheduler hands out exactly the batches of BatchIterator, in order, and stops cleanly.
#include <gtest/gtest.h>

#include "bioprop/data.hpp"
#include "numbered_dataset.hpp"

namespace bioprop {
namespace {

TEST(Prefetcher, YieldsTheBatchesOfBatchIteratorInOrder) {
  const Dataset data = numbered_dataset(103);
  auto backend = make_cpu_backend();
  for (int depth : {1, 2, 4}) {  // 1 is raised to 2: batch k + 1 is staged while batch k trains
    // With augmentation on, so the producer thread's shifts and flips are checked against the iterator's too.
    const Augmentation augmentation{1, true};
    BatchIterator reference(data, 10, true, 7, 3, augmentation);
    Prefetcher prefetcher(data, 10, true, 7, 3, *backend, depth, augmentation);
    EXPECT_EQ(prefetcher.batches(), reference.batches());
    Batch expected, actual;
    int count = 0;
    while (reference.next(*backend, expected)) {
      ASSERT_TRUE(prefetcher.next(*backend, actual)) << "batch " << count;
      ASSERT_EQ(actual.inputs.shape(), expected.inputs.shape());
      for (size_t i = 0; i < expected.inputs.numel(); ++i) ASSERT_EQ(actual.inputs.at(i), expected.inputs.at(i));
      for (size_t i = 0; i < expected.labels.numel(); ++i) ASSERT_EQ(actual.labels.at(i), expected.labels.at(i));
      ++count;
    }
    EXPECT_FALSE(prefetcher.next(*backend, actual));
    EXPECT_FALSE(prefetcher.next(*backend, actual));  // and stays at the end
    EXPECT_EQ(count, 11);                             // ten full batches and one of 3
    EXPECT_GE(prefetcher.waited_seconds(), 0.0);
  }
}

// A run resumed mid-epoch starts its batch source at the next batch: both sources then yield the rest
// of the epoch's batches exactly as a source started at the beginning does (augmentation included).
TEST(BatchSource, StartsAtAGivenBatchWithTheBatchesOfAFullEpoch) {
  const Dataset data = numbered_dataset(103);
  auto backend = make_cpu_backend();
  const Augmentation augmentation{1, true};
  for (int first : {0, 4, 10, 11}) {
    BatchIterator whole(data, 10, true, 7, 3, augmentation);
    BatchIterator iterator(data, 10, true, 7, 3, augmentation, first);
    Prefetcher prefetcher(data, 10, true, 7, 3, *backend, 2, augmentation, first);
    EXPECT_EQ(iterator.batches(), 11);
    EXPECT_EQ(prefetcher.batches(), 11);  // the epoch's count, for the progress display
    Batch expected, from_iterator, from_prefetcher;
    for (int b = 0; b < first; ++b) ASSERT_TRUE(whole.next(*backend, expected));
    int count = 0;
    while (whole.next(*backend, expected)) {
      ASSERT_TRUE(iterator.next(*backend, from_iterator)) << "start " << first << ", batch " << count;
      ASSERT_TRUE(prefetcher.next(*backend, from_prefetcher)) << "start " << first << ", batch " << count;
      for (const Batch* actual : {&from_iterator, &from_prefetcher}) {
        ASSERT_EQ(actual->inputs.shape(), expected.inputs.shape());
        for (size_t i = 0; i < expected.inputs.numel(); ++i) ASSERT_EQ(actual->inputs.at(i), expected.inputs.at(i));
        for (size_t i = 0; i < expected.labels.numel(); ++i) ASSERT_EQ(actual->labels.at(i), expected.labels.at(i));
      }
      ++count;
    }
    EXPECT_EQ(count, 11 - first);
    EXPECT_FALSE(iterator.next(*backend, from_iterator));
    EXPECT_FALSE(prefetcher.next(*backend, from_prefetcher));
  }
}

TEST(Prefetcher, StopsCleanlyMidEpoch) {
  const Dataset data = numbered_dataset(1000);
  auto backend = make_cpu_backend();
  Prefetcher prefetcher(data, 7, false, 0, 1, *backend);
  Batch batch;
  ASSERT_TRUE(prefetcher.next(*backend, batch));
  EXPECT_EQ(batch.labels.at(0), 0.0f);
}  // the destructor stops the producer; a hang here fails the test by its timeout

// Two device buffers alternate: when next() hands out batch k it has already started the upload of
// batch k + 1 into the other buffer, the one batch k - 1 trained on.
TEST(Prefetcher, UploadsTheNextBatchIntoTheOtherBufferBeforeHandingOutThisOne) {
  const Dataset data = numbered_dataset(50);
  auto backend = make_cpu_backend();
  Prefetcher prefetcher(data, 5, false, 0, 1, *backend);
  Batch first, second, third;
  ASSERT_TRUE(prefetcher.next(*backend, first));
  EXPECT_EQ(first.labels.at(0), 0.0f);  // sample 0
  ASSERT_TRUE(prefetcher.next(*backend, second));
  EXPECT_NE(first.inputs.data(), second.inputs.data());
  EXPECT_EQ(second.labels.at(0), 5.0f);
  EXPECT_EQ(first.inputs.at(0), 10.0f * 6);  // batch 0's buffer already holds batch 2: sample 10's first pixel
  ASSERT_TRUE(prefetcher.next(*backend, third));
  EXPECT_EQ(third.inputs.data(), first.inputs.data());
  EXPECT_EQ(third.inputs.at(0), 10.0f * 6);
}

}  // namespace
}  // namespace bioprop

namespace bioprop {
namespace {

// The CPU trains from BatchIterator: a producer thread would take cycles from the compute threads.
TEST(BatchSource, CpuTrainingUsesTheIteratorWithoutAProducerThread) {
  const Dataset data = numbered_dataset(20);
  auto backend = make_cpu_backend();
  const auto source = make_batch_source(data, 8, true, 1, 1, *backend);
  EXPECT_NE(dynamic_cast<BatchIterator*>(source.get()), nullptr);
  EXPECT_EQ(source->batches(), 3);
}

}  // namespace
}  // namespace bioprop
