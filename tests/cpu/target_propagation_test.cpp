// The target-propagation family (Bartunov et al. 2018; Lee et al. 2015): DTP's targets with exact
// inverses, the difference correction, inverse training, SDTP's freedom from gradients, the
// penultimate target's gradient step, and every variant learning real Fashion-MNIST images.
#include <gtest/gtest.h>

#include <cmath>

#include "bioprop/config.hpp"
#include "bioprop/error.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/trainer.hpp"
#include "gradient_check.hpp"
#include "rule_test_fixture.hpp"
#include "rules/target_propagation.hpp"

namespace bioprop {
namespace {

const char* linear_net = "bias = false\n[[layer]]\ntype=\"dense\"\nunits=5\n[[layer]]\ntype=\"dense\"\nunits=5\n";
const char* tanh_net =
    "init = \"glorot\"\n[[layer]]\ntype=\"dense\"\nunits=12\nactivation=\"tanh\"\n"
    "[[layer]]\ntype=\"dense\"\nunits=10\nactivation=\"tanh\"\n[[layer]]\ntype=\"dense\"\nunits=8\nactivation="
    "\"tanh\"\n";
const char* lc_net =
    "init = \"glorot\"\n[[layer]]\ntype=\"locally_connected2d\"\nchannels=3\nkernel=3\nstride=2\nactivation=\"tanh\"\n"
    "[[layer]]\ntype=\"locally_connected2d\"\nchannels=2\nkernel=2\nactivation=\"tanh\"\n"
    "[[layer]]\ntype=\"dense\"\nunits=6\nactivation=\"tanh\"\n";

class TargetPropagationTest : public testing::RuleTest {
 protected:
  static std::unique_ptr<TargetPropagation> rule(
      const std::string& name, std::initializer_list<std::pair<const char*, Options::Value>> set = {}) {
    auto made = RuleTest::rule(name, set);
    return std::unique_ptr<TargetPropagation>(dynamic_cast<TargetPropagation*>(made.release()));
  }
  static double max_difference(const Tensor& a, const Tensor& b) {
    EXPECT_EQ(a.numel(), b.numel());
    double worst = 0;
    for (size_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(static_cast<double>(a.at(i) - b.at(i))));
    return worst;
  }
};

// Inverse of a small square matrix (row-major) by Gauss-Jordan elimination with partial pivoting.
std::vector<double> inverse_of(std::vector<double> a, int n) {
  std::vector<double> inv(static_cast<size_t>(n * n), 0.0);
  for (int i = 0; i < n; ++i) inv[static_cast<size_t>(i * n + i)] = 1.0;
  const auto at = [n](std::vector<double>& m, int r, int c) -> double& { return m[static_cast<size_t>(r * n + c)]; };
  for (int c = 0; c < n; ++c) {
    int pivot = c;
    for (int r = c + 1; r < n; ++r)
      if (std::abs(at(a, r, c)) > std::abs(at(a, pivot, c))) pivot = r;
    for (int k = 0; k < n; ++k) std::swap(at(a, c, k), at(a, pivot, k)), std::swap(at(inv, c, k), at(inv, pivot, k));
    const double d = at(a, c, c);
    for (int k = 0; k < n; ++k) at(a, c, k) /= d, at(inv, c, k) /= d;
    for (int r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = at(a, r, c);
      for (int k = 0; k < n; ++k) at(a, r, k) -= f * at(a, c, k), at(inv, r, k) -= f * at(inv, c, k);
    }
  }
  return inv;
}

// With g_2 the exact inverse of a linear layer (V = W^-1, no bias), DTP's target of the layer below is
// the analytic inverse of the target above: t_1 = h_1 + V t_2 - V h_2 = W^-1 t_2.
TEST_F(TargetPropagationTest, DtpTargetsEqualTheAnalyticInverseWithExactLinearInverses) {
  auto n = net(linear_net, {5});
  auto tp = rule("dtp_parallel");  // targets from the inverses as set, before their own update
  tp->attach(*n, *backend, 1);
  const Tensor& w = weighted(*n, 1).weights().value;  // (5, 5): h_2 = W h_1
  std::vector<double> wd(w.numel());
  for (size_t i = 0; i < wd.size(); ++i) wd[i] = w.at(i);
  const std::vector<double> v = inverse_of(wd, 5);
  Network& g = *tp->inverse(1);
  auto params = g.parameters();  // dense weights (5, 5) and bias (5)
  for (size_t i = 0; i < v.size(); ++i) params[0]->value.at(i) = static_cast<float>(v[i]);
  backend->fill(params[1]->value, 0.0f);
  const Batch b = batch({6, 5}, 4);
  tp->step(*n, b, *backend);
  const Tensor& t2 = tp->target(1);
  const Tensor& t1 = tp->target(0);
  Tensor expected({6, 5});
  for (int s = 0; s < 6; ++s)
    for (int r = 0; r < 5; ++r) {
      double sum = 0;
      for (int c = 0; c < 5; ++c) sum += v[static_cast<size_t>(r * 5 + c)] * t2.at(static_cast<size_t>(s * 5 + c));
      expected.at(static_cast<size_t>(s * 5 + r)) = static_cast<float>(sum);
    }
  EXPECT_LT(max_difference(t1, expected), 1e-4);
  // The targets moved: the check is not one of h against itself.
  EXPECT_GT(max_difference(t1, n->activations(1)), 1e-4);
}

// The difference correction: when the top target equals the activity, every target does, even through
// imperfect (random) inverses, and no weight below the readout moves. Plain TP has no such fixed point.
TEST_F(TargetPropagationTest, DifferenceCorrectionKeepsTargetsAtActivitiesWhenTheTopTargetIsTheActivity) {
  auto n = net(tanh_net, {7});
  const Batch b = batch({5, 7}, 4);
  for (const std::string name : {"dtp", "dtp_parallel", "tp"}) {
    auto tp = rule(name, {{"target_step", 0.0}});
    tp->attach(*n, *backend, 1);
    tp->step(*n, b, *backend);
    double worst = 0;
    for (size_t l = 0; l + 1 < tp->blocks().size(); ++l)
      worst = std::max(worst, max_difference(tp->target(l), n->activations(tp->blocks()[l].last)));
    if (name == "tp") {
      EXPECT_GT(worst, 1e-2) << "plain TP's targets through random inverses";
      continue;
    }
    EXPECT_LT(worst, 1e-6) << name;
    for (size_t l = 0; l + 2 < tp->blocks().size(); ++l)
      EXPECT_LT(norm(weighted(*n, tp->blocks()[l].first).weights().grad), 1e-6) << name << " block " << l;
  }
}

// Inverses learn: the noise-corrupted reconstruction loss of every inverse falls on a fixed batch, in
// dense and in locally connected nets (the transposed LC inverse).
TEST_F(TargetPropagationTest, ReconstructionLossFalls) {
  for (const auto& [text, sample] : {std::pair{tanh_net, Shape{7}}, std::pair{lc_net, Shape{1, 9, 9}}}) {
    auto n = net(text, sample);
    auto tp = rule("dtp", {{"inverse_lr", 1e-2}, {"sigma", 0.05}});
    tp->attach(*n, *backend, 1);
    Options o;
    o.set("learning_rate", 1e-3);
    auto adam = make_optimizer("adam", o);
    const Batch b = batch(sample.batched(16), 4);
    std::vector<double> first;
    for (int step = 0; step < 150; ++step) {
      tp->step(*n, b, *backend);
      adam->step(*backend, n->parameters());
      if (step == 0)
        for (size_t l = 1; l + 1 < tp->blocks().size(); ++l) first.push_back(tp->reconstruction_loss(l));
    }
    for (size_t l = 1; l + 1 < tp->blocks().size(); ++l)
      EXPECT_LT(tp->reconstruction_loss(l), 0.5 * first[l - 1]) << text << " inverse " << l;
  }
}

// SDTP and AO-SDTP never carry the output loss's gradient below the readout: the buffer that would hold
// dL/dh_{L-1} stays as poisoned before the step, while DTP writes it (so the check can fail).
TEST_F(TargetPropagationTest, SdtpNeverCarriesTheOutputLossGradientBelowTheReadout) {
  auto n = net(tanh_net, {7});
  const Batch b = batch({5, 7}, 4);
  for (const std::string name : {"sdtp", "ao_sdtp", "dtp"}) {
    auto tp = rule(name);
    tp->attach(*n, *backend, 1);
    tp->step(*n, b, *backend);  // sizes the buffers
    Tensor& below_readout = n->gradient(tp->blocks().back().first);
    backend->fill(below_readout, std::nanf(""));
    tp->step(*n, b, *backend);
    size_t poisoned = 0;
    for (size_t i = 0; i < below_readout.numel(); ++i) poisoned += std::isnan(below_readout.at(i)) ? 1 : 0;
    if (name == "dtp") {
      EXPECT_EQ(poisoned, 0u) << "dtp takes one gradient step below the readout";
      continue;
    }
    EXPECT_EQ(poisoned, below_readout.numel()) << name;
    // ... and still trains every hidden layer, from the label through the output inverse.
    for (size_t l = 0; l + 1 < tp->blocks().size(); ++l) {
      const double g = norm(weighted(*n, tp->blocks()[l].first).weights().grad);
      EXPECT_TRUE(std::isfinite(g) && g > 0) << name << " block " << l << " update norm " << g;
    }
  }
}

// tp and dtp set the penultimate target by a gradient step, t = h - alpha dL/dh: the penultimate block's
// local loss then has bp's gradient direction (angle 0), while the blocks below follow the inverses.
TEST_F(TargetPropagationTest, PenultimateUpdateHasBackpropsDirection) {
  auto n = net(tanh_net, {7});
  const Batch b = batch({6, 7}, 4);
  auto tp = rule("dtp");
  tp->attach(*n, *backend, 1);
  const auto angles = measure_alignment(*n, *tp, b, *backend);
  ASSERT_EQ(angles.size(), 4u);
  EXPECT_LT(angles[2].update_angle, 0.5);  // penultimate hidden layer
  EXPECT_LT(angles[3].update_angle, 0.5);  // the readout learns from the loss
  EXPECT_GT(angles[0].update_angle, 0.5);  // below: through random inverses, not bp
}

// The locally connected inverse's own gradients (input and V) against finite differences, with and
// without padding.
TEST_F(TargetPropagationTest, TransposedLocallyConnectedGradients) {
  for (const int padding : {0, 1}) {
    WindowGeometry g;
    g.in_channels = 2, g.in_h = 7, g.in_w = 7, g.out_channels = 3, g.kernel_h = g.kernel_w = 3, g.stride = 2;
    g.padding = padding;
    g.out_h = g.out_w = (7 + 2 * padding - 3) / 2 + 1;
    auto layer = make_transposed_locally_connected(g);
    testing::check_layer(*backend, *layer, {2, 3, g.out_h, g.out_w});
  }
}

// Noise and learning rate per inverse (bottom up): an inverse with a negligible learning rate keeps its
// weights while the other learns; lists of the wrong length or with bad numbers are refused.
TEST_F(TargetPropagationTest, PerLayerInverseSettings) {
  auto n = net(tanh_net, {7});
  auto tp = rule("dtp", {{"layer_inverse_lrs", std::string("1e-30, 1e-2")}, {"layer_sigmas", std::string("0.1,0")}});
  tp->attach(*n, *backend, 1);
  const Tensor first = tp->inverse(1)->parameters()[0]->value.clone();
  const Tensor second = tp->inverse(2)->parameters()[0]->value.clone();
  const Batch b = batch({5, 7}, 4);
  for (int step = 0; step < 5; ++step) tp->step(*n, b, *backend);
  EXPECT_LT(max_difference(tp->inverse(1)->parameters()[0]->value, first), 1e-20);
  EXPECT_GT(max_difference(tp->inverse(2)->parameters()[0]->value, second), 1e-3);
  EXPECT_THROW(rule("dtp", {{"layer_sigmas", std::string("0.1")}})->attach(*n, *backend, 1), Error);
  EXPECT_THROW(rule("sdtp", {{"layer_sigmas", std::string("0.1,0.1")}})->attach(*n, *backend, 1), Error);
  EXPECT_NO_THROW(rule("sdtp", {{"layer_sigmas", std::string("0.1,0.1,0.2")}})->attach(*n, *backend, 1));
  for (const char* bad : {"0.1,x", "0.1,,0.2", "-1,0.1", "0.1 0.2"}) {
    Options o;
    o.set("layer_sigmas", std::string(bad));
    EXPECT_THROW(make_rule("dtp", o), Error) << bad;
  }
}

// SDTP's output inverse r = tanh(V_o p + V_z z + c): its parameters' gradients against finite differences.
TEST_F(TargetPropagationTest, OutputInverseGradients) {
  OutputInverse g(4, 3, 5, Activation::tanh, *backend, 9);
  const Tensor p = testing::random_tensor(*backend, {6, 4}, 1), z = testing::random_tensor(*backend, {6, 3}, 2);
  const Tensor probe = testing::random_tensor(*backend, {6, 5}, 3);
  const auto loss = [&] { return testing::probe_loss(g.forward(*backend, p, z), probe); };
  loss();
  g.backward(*backend, p, z, probe);
  for (Parameter* parameter : g.parameters()) {
    if (parameter->name.ends_with("bias")) backend->random_normal(parameter->value, 0.0f, 0.5f, 4, 0);
    loss();
    g.backward(*backend, p, z, probe);
    const Tensor analytic = parameter->grad.clone();
    testing::expect_matches_finite_differences(parameter->name, parameter->value, analytic, loss);
  }
  EXPECT_EQ(g.parameters().size(), 3u);
}

TEST_F(TargetPropagationTest, RefusesConvolutionsAndNetsWithoutHiddenLayers) {
  auto conv =
      net("[[layer]]\ntype=\"conv2d\"\nchannels=2\nkernel=3\n[[layer]]\ntype=\"conv2d\"\nchannels=2\nkernel=3\n",
          {1, 8, 8});
  EXPECT_THROW(rule("dtp")->attach(*conv, *backend, 1), Error);
  auto readout_only = net("[[layer]]\ntype=\"flatten\"\n", {4});
  EXPECT_THROW(rule("sdtp")->attach(*readout_only, *backend, 1), Error);
  Options bad;
  bad.set("inverse_steps", 0);
  EXPECT_THROW(make_rule("dtp", bad), Error);
}

// Every variant learns real Fashion-MNIST images: a two-hidden-layer tanh net, Adam, 2000 images, 3
// epochs (chance is 10%; bp reaches about 75% here). Plain TP, whose targets pass through the
// inverses alone, learns least (20.6% when written; Bartunov et al. left it out for that reason).
TEST_F(TargetPropagationTest, EveryVariantLearnsAFashionMnistSubsetAboveChance) {
  DataRequest request;
  request.train_limit = 2000;
  request.test_limit = 2000;
  const DataSplits data = load_dataset(request);
  const char* mlp =
      "init = \"glorot\"\n[[layer]]\ntype=\"dense\"\nunits=64\nactivation=\"tanh\"\n"
      "[[layer]]\ntype=\"dense\"\nunits=64\nactivation=\"tanh\"\n";
  for (const std::string name : {"tp", "dtp", "dtp_parallel", "sdtp", "ao_sdtp"}) {
    auto n = build_network({"mlp", "mlp", mlp}, data.train.sample_shape(), 10, 5, *backend);
    Options none;
    auto r = make_rule(name, none);
    Options o;
    o.set("learning_rate", 1e-3);
    auto adam = make_optimizer("adam", o);
    TrainSettings settings;
    settings.epochs = 3;
    settings.batch_size = 32;
    settings.show_progress = false;
    const double accuracy = train(*n, *r, *adam, data, *backend, settings).final_test_accuracy;
    EXPECT_GT(accuracy, name == "tp" ? 0.15 : 0.6) << name;
  }
}

}  // namespace
}  // namespace bioprop
