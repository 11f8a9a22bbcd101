// Network::set_buffer_reuse (issue 18's memory): the rules that turn it on compute the same updates,
// bit for bit, as with every buffer kept, while the interior gradients share two buffers and ReLUs run
// over their input in place.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bioprop/rule.hpp"
#include "rule_test_fixture.hpp"

namespace bioprop {
namespace {

// conv -> relu -> batch norm -> pool -> dropout -> dense -> relu -> dropout -> readout: every layer kind
// the reference nets chain, with ReLUs after a convolution and after a dense layer.
const char* chained =
    "[[layer]]\ntype=\"conv2d\"\nchannels=4\nkernel=3\npadding=1\nactivation=\"relu\"\n"
    "[[layer]]\ntype=\"batch_norm\"\n"
    "[[layer]]\ntype=\"max_pool2d\"\nkernel=2\n"
    "[[layer]]\ntype=\"dropout\"\nrate=0.3\n"
    "[[layer]]\ntype=\"dense\"\nunits=9\nactivation=\"relu\"\n"
    "[[layer]]\ntype=\"dropout\"\nrate=0.2\n";
// Without batch norm the reward-based rules take their other path: the RPE scales each layer's tags.
const char* without_batch_norm =
    "[[layer]]\ntype=\"conv2d\"\nchannels=3\nkernel=3\nactivation=\"relu\"\n"
    "[[layer]]\ntype=\"locally_connected2d\"\nchannels=2\nkernel=2\nactivation=\"relu\"\n"
    "[[layer]]\ntype=\"dense\"\nunits=7\nactivation=\"relu\"\n";
// Without a bias the convolution applies the ReLU after it as it writes its output (a oneDNN post-op;
// Layer::forward_then_relu), and the ReLU layer's own pass is skipped.
const char* relu_in_the_convolution =
    "[[layer]]\ntype=\"conv2d\"\nchannels=4\nkernel=3\npadding=1\nbias=false\nactivation=\"relu\"\n"
    "[[layer]]\ntype=\"batch_norm\"\n"
    "[[layer]]\ntype=\"conv2d\"\nchannels=3\nkernel=3\nstride=2\nbias=false\nactivation=\"relu\"\n"
    "[[layer]]\ntype=\"dense\"\nunits=7\nactivation=\"relu\"\n";
const Shape sample{2, 6, 6};
constexpr int classes = 3;

class BufferReuse : public testing::RuleTest {
 protected:
  // Two steps of `rule_name` on a fresh net, with buffer reuse as the rule sets it or turned off after
  // attach; returns every parameter's update after each step.
  std::vector<std::vector<float>> updates(const std::string& rule_name, bool reuse, float activity_noise = 0.0f,
                                          const char* layers = chained) {
    auto network = net(layers, sample, classes);
    network->set_training(true);
    network->set_training_noise({activity_noise, 0.0f, 11});
    auto r = rule(rule_name);
    r->attach(*network, *backend, 5);
    if (!reuse) network->set_buffer_reuse(false);
    std::vector<std::vector<float>> all;
    for (uint64_t step = 0; step < 2; ++step) {
      r->step(*network, batch(sample.batched(8), classes, 20 + step), *backend);
      for (Parameter* p : network->parameters()) {
        const auto values = p->grad.values();
        all.emplace_back(values.begin(), values.end());
      }
    }
    last_ = std::move(network);
    return all;
  }
  std::unique_ptr<Network> last_;
};

TEST_F(BufferReuse, RulesThatReuseBuffersComputeTheSameUpdatesBitForBit) {
  for (const char* layers : {chained, without_batch_norm, relu_in_the_convolution})
    for (const char* name : {"bp", "fa", "sign_symmetry", "brainprop", "qagrel"}) {
      SCOPED_TRACE(std::string(name) + " on " + layers);
      const auto kept = updates(name, false, 0.0f, layers);
      const auto reused = updates(name, true, 0.0f, layers);
      ASSERT_EQ(kept.size(), reused.size());
      for (size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i], reused[i]) << "parameter update " << i;
    }
}

TEST_F(BufferReuse, InteriorGradientsShareTwoBuffersAndReluRunsInPlace) {
  updates("bp", true);
  Network& n = *last_;
  // Layers: 0 conv, 1 relu, 2 batch norm, 3 pool, 4 dropout, 5 dense, 6 relu, 7 dropout, 8 readout.
  ASSERT_EQ(n.layer(1).kind(), "relu");
  ASSERT_EQ(n.layer(6).kind(), "relu");
  EXPECT_EQ(n.gradient(1).data(), n.gradient(3).data());
  EXPECT_EQ(n.gradient(2).data(), n.gradient(4).data());
  EXPECT_NE(n.gradient(1).data(), n.gradient(2).data());
  EXPECT_NE(n.gradient(n.size()).data(), n.gradient(n.size() - 1).data());  // the output's own
  EXPECT_EQ(n.activations(1).data(), n.activations(2).data());              // relu over the conv's output
  EXPECT_EQ(n.activations(6).data(), n.activations(7).data());
  EXPECT_NE(n.activations(2).data(), n.activations(3).data());  // batch norm writes its own output
  for (size_t i = 0; i < n.activations(2).numel(); ++i) ASSERT_GE(n.activations(2).at(i), 0.0f);
}

TEST_F(BufferReuse, ActivityNoiseKeepsTheReluInputAndTheSameUpdates) {
  // The derivative at a needs a itself once noise is added to f(a): no ReLU runs in place then.
  const auto kept = updates("bp", false, 0.1f);
  const auto reused = updates("bp", true, 0.1f);
  EXPECT_NE(last_->activations(1).data(), last_->activations(2).data());
  ASSERT_EQ(kept.size(), reused.size());
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i], reused[i]) << "parameter update " << i;
}

TEST_F(BufferReuse, ARuleThatKeepsEveryGradientGetsBuffersOfItsOwn) {
  auto network = net(chained, sample, classes);
  auto r = rule("dfa");
  r->attach(*network, *backend, 5);
  network->set_training(true);
  r->step(*network, batch(sample.batched(8), classes), *backend);
  for (int i = 1; i + 2 < network->size(); ++i)
    EXPECT_NE(network->gradient(i).data(), network->gradient(i + 2).data()) << "layer " << i;
  EXPECT_NE(network->activations(1).data(), network->activations(2).data());
}

}  // namespace
}  // namespace bioprop
