// Segregated-dendrite nets (Guerguiev, Lillicrap, Richards 2017): the compartments' Euler steps against
// hand-computed values, the PSP traces against the kernel's convolution, the spike counts against the
// Poisson law, the plateau difference when the target phase is a forward phase, and a hidden layer learning
// what the readout alone cannot.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "bioprop/error.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rng.hpp"
#include "bioprop/trainer.hpp"
#include "error_message.hpp"
#include "rule_test_fixture.hpp"

namespace bioprop {
namespace {

using testing::error_of;
using testing::RuleTest;

// The call throws a bioprop::Error whose message contains `text`.
#define EXPECT_ERROR_MESSAGE(call, text) \
  EXPECT_NE(error_of([&] { (void)(call); }).find(text), std::string::npos) << error_of([&] { (void)(call); })

TEST(DendriteMath, CompartmentStepsMatchHandComputedValues) {
  DendriteConstants k;
  k.g_A = 0.05f;
  // dC = -0.1 * 0.5 + 0.6 * (2 - 0.5) + 0.05 * (1 - 0.5) = 0.875
  EXPECT_FLOAT_EQ(hidden_soma_step(0.5f, 2.0f, 1.0f, k), 1.375f);
  // dU = -0.1 * 1 + 0.6 * (2 - 1) = 0.5, plus 1 * (8 - 1) for the label's unit, 1 * (-8 - 1) for another
  EXPECT_FLOAT_EQ(output_soma_step(1.0f, 2.0f, -1.0f, k), 1.5f);
  EXPECT_FLOAT_EQ(output_soma_step(1.0f, 2.0f, 1.0f, k), 8.5f);
  EXPECT_FLOAT_EQ(output_soma_step(1.0f, 2.0f, 0.0f, k), -7.5f);
  k.teaching = 0.5f;  // half-strength teaching conductances
  EXPECT_FLOAT_EQ(output_soma_step(1.0f, 2.0f, 1.0f, k), 5.0f);
  EXPECT_FLOAT_EQ(firing_rate(0.0f, 0.2f), 0.1f);
  EXPECT_NEAR(k.k_B(), 0.6 / 0.75, 1e-7);
  EXPECT_NEAR(k.k_D(), 0.6 / 0.7, 1e-7);
}

// The traces give PSP_t = sum_{i>=0} kappa(i+1) s_{t-i}, kappa(t) = (e^{-t/10} - e^{-t/3}) / 7, for any train.
TEST(DendriteMath, SpikeTracesConvolveWithTheKernel) {
  const DendriteConstants k;
  const std::vector<float> spikes{1, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 3, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0};
  float fast = 0, slow = 0;
  for (size_t t = 0; t < spikes.size(); ++t) {
    const float psp = filter_spikes(spikes[t], fast, slow, k.decay_fast(), k.decay_slow(), k);
    double expected = 0;
    for (size_t i = 0; i <= t; ++i) {
      const double lag = static_cast<double>(i + 1);
      expected += (std::exp(-lag / 10.0) - std::exp(-lag / 3.0)) / 7.0 * spikes[t - i];
    }
    EXPECT_NEAR(psp, expected, 1e-6) << "step " << t;
  }
}

TEST(DendriteMath, SpikeCountsFollowThePoissonLaw) {
  const float mean = 0.2f;
  const int draws = 200000;
  std::vector<int> histogram(4, 0);
  for (int i = 0; i < draws; ++i) {
    const int count = static_cast<int>(poisson_count(mean, philox_uniform(7, 0, static_cast<uint64_t>(i))));
    ++histogram[static_cast<size_t>(std::min(count, 3))];
  }
  const double p0 = std::exp(-0.2), p1 = 0.2 * p0, p2 = 0.02 * p0;
  EXPECT_NEAR(histogram[0] / double(draws), p0, 0.004);
  EXPECT_NEAR(histogram[1] / double(draws), p1, 0.004);
  EXPECT_NEAR(histogram[2] / double(draws), p2, 0.002);
}

class DendriteStepTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend = make_cpu_backend();
};

// The backend's step on a hidden and an output layer, non-spiking (the PSP is the rate): the somata move by
// the hand-computed Euler steps, and the window sums add up.
TEST_F(DendriteStepTest, BackendStepAdvancesEveryCompartment) {
  Tensor basal = Tensor::from({2, 1}, std::vector<float>{2.0f, 0.0f});
  Tensor apical = Tensor::from({2, 1}, std::vector<float>{1.0f, 0.0f});
  Tensor soma = Tensor::from({2, 1}, std::vector<float>{0.5f, 0.0f});
  Tensor psp({2, 1}), soma_sum({2, 1}), apical_sum({2, 1}), rate_sum({2, 1});
  DendriteStep step;
  step.layer = DendriteLayer::hidden;
  step.drive = &basal;
  step.apical = &apical;
  step.soma = &soma;
  step.psp = &psp;
  step.soma_sum = &soma_sum;
  step.apical_sum = &apical_sum;
  step.rate_sum = &rate_sum;
  step.constants.g_A = 0.05f;
  step.spiking = false;
  backend->dendrite_step(step);
  backend->dendrite_step(step);
  const float first = 1.375f, second = hidden_soma_step(first, 2.0f, 1.0f, step.constants);
  EXPECT_FLOAT_EQ(soma.at(0), second);
  EXPECT_FLOAT_EQ(soma.at(1), 0.0f);  // at rest with no input
  EXPECT_FLOAT_EQ(psp.at(0), firing_rate(second, 0.2f));
  EXPECT_FLOAT_EQ(soma_sum.at(0), first + second);
  EXPECT_FLOAT_EQ(apical_sum.at(0), 2.0f);
  EXPECT_FLOAT_EQ(rate_sum.at(0), firing_rate(first, 0.2f) + firing_rate(second, 0.2f));

  // The output layer in the target phase: unit 1 is the label of example 0, unit 0 of example 1.
  Tensor dendrite = Tensor::from({2, 2}, std::vector<float>{2.0f, 2.0f, 2.0f, 2.0f});
  Tensor output = Tensor::from({2, 2}, std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f});
  Tensor labels = Tensor::from({2}, std::vector<float>{1.0f, 0.0f});
  Tensor output_psp({2, 2});
  DendriteStep out;
  out.layer = DendriteLayer::output;
  out.drive = &dendrite;
  out.labels = &labels;
  out.soma = &output;
  out.psp = &output_psp;
  out.spiking = false;
  backend->dendrite_step(out);
  EXPECT_FLOAT_EQ(output.at(0), -7.5f);
  EXPECT_FLOAT_EQ(output.at(1), 8.5f);
  EXPECT_FLOAT_EQ(output.at(2), 8.5f);
  EXPECT_FLOAT_EQ(output.at(3), -7.5f);
}

// Input neurons firing at a constant rate: the mean PSP is the rate times the kernel's sum (0.997 at 1 ms).
TEST_F(DendriteStepTest, SpikingInputPspAveragesToTheRate) {
  const int n = 64, units = 100, steps = 300, window = 200;
  Tensor rates({n, units}), fast({n, units}), slow({n, units}), psp({n, units}), psp_sum({n, units});
  backend->fill(rates, 0.1f);
  DendriteStep step;
  step.layer = DendriteLayer::input;
  step.drive = &rates;
  step.trace_fast = &fast;
  step.trace_slow = &slow;
  step.psp = &psp;
  step.seed = 11;
  for (int t = 0; t < steps; ++t) {
    step.offset = static_cast<uint64_t>(t) << 24;
    step.psp_sum = t >= steps - window ? &psp_sum : nullptr;
    backend->dendrite_step(step);
  }
  double mean = 0;
  for (size_t i = 0; i < psp_sum.numel(); ++i) mean += psp_sum.at(i);
  mean /= static_cast<double>(psp_sum.numel()) * window;
  const double kernel_sum = (1 / (std::exp(0.1) - 1) - 1 / (std::exp(1 / 3.0) - 1)) / 7.0;
  EXPECT_NEAR(mean, 0.1 * kernel_sum, 0.002);
}

TEST_F(DendriteStepTest, RefusesMissingState) {
  Tensor drive({2, 3}), psp({2, 3});
  DendriteStep step;
  step.drive = &drive;
  step.psp = &psp;
  step.spiking = false;
  EXPECT_ERROR_MESSAGE(backend->dendrite_step(step), "needs its soma");
  step.layer = DendriteLayer::input;
  step.spiking = true;
  EXPECT_ERROR_MESSAGE(backend->dendrite_step(step), "both spike traces");
}

class DendritesRuleTest : public RuleTest {
 protected:
  // The largest |grad| over every parameter after one step.
  static double largest_update(Network& n) {
    double largest = 0;
    for (Parameter* p : n.parameters())
      for (size_t i = 0; i < p->grad.numel(); ++i) largest = std::max(largest, std::abs(double(p->grad.at(i))));
    return largest;
  }
};

const char* hidden_net = "bias = true\n[[layer]]\ntype = \"dense\"\nunits = 12\nactivation = \"sigmoid\"\n";

// Without teaching the target phase is a forward phase: in the deterministic (non-spiking) mode both windows
// see the same steady state, so the plateau potentials agree and no weight moves; with teaching they do.
TEST_F(DendritesRuleTest, NoUpdateWhenTheTargetPhaseEqualsTheForwardPhase) {
  const Batch b = batch({5, 1, 3, 3}, 4);
  for (const double teaching : {0.0, 1.0}) {
    auto n = net(hidden_net, {1, 3, 3});
    auto r = rule("dendrites", {{"spiking", false}, {"random_phase_lengths", false}, {"teaching", teaching}});
    r->attach(*n, *backend, 2);
    r->step(*n, b, *backend);
    if (teaching == 0.0)
      EXPECT_LT(largest_update(*n), 1e-5);
    else
      EXPECT_GT(largest_update(*n), 1e-2);
  }
}

// Symmetric feedback is W^T of the layer above; the sparse variant keeps about a fifth of it, five times stronger.
TEST_F(DendritesRuleTest, SymmetricAndSparseFeedback) {
  auto n = net(hidden_net, {1, 3, 3});
  auto r = rule("dendrites", {{"feedback", std::string("symmetric")}});
  r->attach(*n, *backend, 2);
  const Tensor& y = r->rule_parameters().at(0)->value;            // (12 hidden, 4 outputs)
  const Tensor& w = weighted(*n, n->size() - 1).weights().value;  // (4, 12)
  ASSERT_EQ(y.shape(), (Shape{12, 4}));
  for (int i = 0; i < 12; ++i)
    for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(y.at(size_t(i) * 4 + k), w.at(size_t(k) * 12 + i));
  auto sparse = rule("dendrites", {{"feedback", std::string("symmetric")}, {"sparse_feedback", true}});
  auto m = net(hidden_net, {1, 3, 3});
  sparse->attach(*m, *backend, 2);
  const Tensor& ys = sparse->rule_parameters().at(0)->value;
  const Tensor& ws = weighted(*m, m->size() - 1).weights().value;
  int kept = 0;
  for (int i = 0; i < 12; ++i)
    for (int k = 0; k < 4; ++k) {
      const float v = ys.at(size_t(i) * 4 + k);
      if (v != 0.0f) {
        ++kept;
        EXPECT_FLOAT_EQ(v, 5.0f * ws.at(size_t(k) * 12 + i));
      }
    }
  EXPECT_GT(kept, 2);
  EXPECT_LT(kept, 24);
}

// Learned feedback moves Y within the step (by the authors' rule, toward apical plateaus that predict the somatic
// rates); fixed random feedback stays as it was.
TEST_F(DendritesRuleTest, OnlyLearnedFeedbackMovesY) {
  const Batch b = batch({5, 1, 3, 3}, 4);
  for (const char* kind : {"random", "learned"}) {
    auto n = net(hidden_net, {1, 3, 3});
    auto r = rule("dendrites", {{"feedback", std::string(kind)}, {"feedback_lr", 1.0}, {"spiking", false}});
    r->attach(*n, *backend, 2);
    const Tensor before = r->rule_parameters().at(0)->value.clone();
    r->step(*n, b, *backend);
    const Tensor& after = r->rule_parameters().at(0)->value;
    double moved = 0;
    for (size_t i = 0; i < after.numel(); ++i) {
      ASSERT_TRUE(std::isfinite(after.at(i)));
      moved = std::max(moved, std::abs(double(after.at(i)) - before.at(i)));
    }
    if (std::string(kind) == "learned")
      EXPECT_GT(moved, 1e-6) << kind;
    else
      EXPECT_EQ(moved, 0.0) << kind;
  }
}

TEST_F(DendritesRuleTest, RefusesBadOptionsAndNets) {
  EXPECT_ERROR_MESSAGE(rule("dendrites", {{"feedback", std::string("mirror")}}), "'feedback' must be");
  EXPECT_ERROR_MESSAGE(rule("dendrites", {{"window_ms", 60}}), "'window_ms' (60) must fit in both phases");
  EXPECT_ERROR_MESSAGE(rule("dendrites", {{"test_ms", 0}}), "'test_ms' must be at least 1 ms");
  auto conv = net("bias = true\n[[layer]]\ntype = \"conv2d\"\nchannels = 2\nkernel = 3\n", {1, 4, 4});
  auto r = rule("dendrites");
  EXPECT_ERROR_MESSAGE(r->attach(*conv, *backend, 1), "layer 0 is conv2d");
}

// XOR of two bits, each shown as four pixels (on/off and its complement): a readout alone classifies at
// most three of the four patterns (75%); a hidden layer learning by plateau potentials gets them all.
Dataset xor_dataset(int n, uint64_t seed) {
  Dataset d;
  d.classes = 2;
  d.images = Tensor({n, 1, 1, 8});
  d.labels = Tensor({n});
  for (int i = 0; i < n; ++i) {
    const int a = static_cast<int>(philox_uniform(seed, 0, 2 * uint64_t(i)) < 0.5f);
    const int b = static_cast<int>(philox_uniform(seed, 0, 2 * uint64_t(i) + 1) < 0.5f);
    const float pixels[8] = {float(a), float(a), float(1 - a), float(1 - a),
                             float(b), float(b), float(1 - b), float(1 - b)};
    for (int p = 0; p < 8; ++p) d.images.at(size_t(i) * 8 + size_t(p)) = pixels[p];
    d.labels.at(size_t(i)) = static_cast<float>(a ^ b);
  }
  return d;
}

TEST_F(DendritesRuleTest, HiddenLayerLearnsWhatTheReadoutAloneCannot) {
  DataSplits data;
  data.train = xor_dataset(1200, 3);
  data.test = xor_dataset(200, 4);
  auto accuracy = [&](const char* layers) {
    auto n = build_network({"t", "t", std::string("bias = true\n") + layers}, {1, 1, 8}, 2, 3, *backend);
    auto r = rule("dendrites", {{"test_ms", 100}, {"test_window_ms", 70}});
    Options o;
    o.set("learning_rate", 0.21);
    o.set("momentum", 0.0);
    auto sgd = make_optimizer("sgd", o);
    TrainSettings settings;
    settings.epochs = 8;
    settings.batch_size = 1;  // the paper's online learning
    settings.show_progress = false;
    return train(*n, *r, *sgd, data, *backend, settings).final_test_accuracy;
  };
  const double readout_only = accuracy("[[layer]]\ntype = \"flatten\"\n");
  const double hidden = accuracy("[[layer]]\ntype = \"dense\"\nunits = 40\nactivation = \"sigmoid\"\n");
  EXPECT_LE(readout_only, 0.8);
  EXPECT_GE(hidden, 0.95);
}

}  // namespace
}  // namespace bioprop
