// Data-parallel pieces that need no launcher (issue 17): a layer's sum over the ranks starts as soon as the
// rule announces its update (item 2: while credit assignment goes on below), and per-trial draws numbered by
// the trial's place in the global batch make the ranks' shares give one process's update exactly (item 3).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bioprop/distributed.hpp"
#include "rule_test_fixture.hpp"
#include "trainer/data_parallel.hpp"

namespace bioprop {
namespace {

using testing::RuleTest;

// A job of two ranks whose other rank sends zeros: a sum leaves the values as they are. It notes every sum
// started, and whether the bottom layer's update (`watched`) was still unwritten then.
class RecordingJob final : public Communicator {
 public:
  int size() const override { return 2; }
  void start_all_reduce_sum(float* values, size_t) override {
    started.push_back(values);
    bottom_pending_at_start.push_back(watched != nullptr && std::isnan(watched->at(0)));
  }
  void finish_sums() override { ++finishes; }

  const Tensor* watched = nullptr;
  std::vector<const float*> started;
  std::vector<bool> bottom_pending_at_start;
  int finishes = 0;
};

class DataParallelTest : public RuleTest {
 protected:
  static constexpr const char* two_layers =
      "[[layer]]\ntype=\"dense\"\nunits=7\nactivation=\"relu\"\n"
      "[[layer]]\ntype=\"dropout\"\nrate=0.3\n";

  // The rule's step on a fresh net, its updates summed through a recording job of two ranks.
  RecordingJob step_with_sums(const std::string& rule_name, int& early) {
    auto network = net(two_layers, Shape({6}));
    auto r = rule(rule_name);
    r->attach(*network, *backend, 5);
    network->set_training(true);
    const std::vector<Parameter*> parameters = r->trainable(*network);
    Tensor& bottom = network->layer(0).parameters().front()->grad;
    bottom.resize(network->layer(0).parameters().front()->value.shape());
    backend->fill(bottom, std::numeric_limits<float>::quiet_NaN());
    RecordingJob job;
    job.watched = &bottom;
    UpdateSums sums(job, *backend, parameters, 0.5);
    {
      std::optional<SumsOnAnnouncement> overlap;
      if (r->announces_updates()) overlap.emplace(*network, sums);
      r->step(*network, batch({8, 6}, 4), *backend);
    }
    EXPECT_EQ(job.finishes, 0);
    sums.finish();
    EXPECT_EQ(job.finishes, 1);
    EXPECT_EQ(job.started.size(), parameters.size()) << rule_name << ": every update summed once";
    early = sums.buckets_sent_early();
    return job;
  }
};

// bp (through Network::backward), BrainProp and DFA (their own loops) start the readout's sum before the
// bottom layer's update exists, one bucket per weighted layer; weight perturbation announces nothing and sums
// after its step.
TEST_F(DataParallelTest, ALayersSumStartsAsSoonAsTheRuleAnnouncesItsUpdate) {
  for (const std::string name : {"bp", "brainprop", "dfa"}) {
    int early = 0;
    const RecordingJob job = step_with_sums(name, early);
    EXPECT_EQ(early, 2) << name;
    ASSERT_FALSE(job.bottom_pending_at_start.empty());
    EXPECT_TRUE(job.bottom_pending_at_start.front()) << name << ": the readout's sum started after the step";
    EXPECT_FALSE(job.bottom_pending_at_start.back()) << name;
  }
  int early = 0;
  const RecordingJob job = step_with_sums("wp", early);
  EXPECT_EQ(early, 0);
  for (bool pending : job.bottom_pending_at_start) EXPECT_FALSE(pending);
}

// Three ranks' shares of a global batch of 8 (2, 3 and 3 trials: the second starts at element 14 of the
// dropout stream, off a Philox block boundary), each weighted by its share of the batch, give the update of
// one process on the whole batch: dropout masks, activity and signal noise, BrainProp's exploration and node
// perturbation's noise are drawn by the trial's place in the global batch.
TEST_F(DataParallelTest, SharesWithGlobalTrialDrawsGiveOneProcesssUpdate) {
  const Batch whole = batch({8, 6}, 4, 11);
  const std::vector<Share> shares = {share_of(8, 0, 3), share_of(8, 1, 3), share_of(8, 2, 3)};
  ASSERT_EQ(shares[1].first, 2);  // 8 * 1 / 3
  for (const std::string name : {"bp", "brainprop", "np"}) {
    // The update of a fresh net and rule on trials [first, first + count) of the global batch.
    const auto update = [&](int first, int count) {
      auto network = net(two_layers, Shape({6}));
      network->set_training_noise({0.05f, 0.1f, 17});
      auto r = rule(name);
      r->attach(*network, *backend, 5);
      network->set_training(true);
      network->set_first_trial(static_cast<uint64_t>(first));
      Batch part{Tensor({count, 6}), Tensor({count})};
      std::copy(whole.inputs.data() + first * 6, whole.inputs.data() + (first + count) * 6, part.inputs.data());
      std::copy(whole.labels.data() + first, whole.labels.data() + first + count, part.labels.data());
      r->step(*network, part, *backend);
      std::vector<Tensor> grads;
      for (Parameter* p : r->trainable(*network)) grads.push_back(p->grad.clone());
      return grads;
    };
    const std::vector<Tensor> expected = update(0, 8);
    std::vector<Tensor> summed;
    for (const Share& s : shares) {
      const std::vector<Tensor> part = update(s.first, s.count);
      if (summed.empty())
        for (const Tensor& g : part) summed.emplace_back(g.shape());
      for (size_t p = 0; p < part.size(); ++p)
        for (size_t i = 0; i < part[p].numel(); ++i)
          summed[p].at(i) += part[p].at(i) * static_cast<float>(s.count) / 8.0f;
    }
    for (size_t p = 0; p < expected.size(); ++p) {
      double largest = 0, difference = 0;
      for (size_t i = 0; i < expected[p].numel(); ++i) {
        largest = std::max(largest, static_cast<double>(std::abs(expected[p].at(i))));
        difference = std::max(difference, static_cast<double>(std::abs(expected[p].at(i) - summed[p].at(i))));
      }
      EXPECT_GT(largest, 0.0) << name << " parameter " << p;
      EXPECT_LE(difference, 1e-5 * largest) << name << " parameter " << p;
    }
  }
}

}  // namespace
}  // namespace bioprop
