// CudaBackend against the CPU reference, operation by operation and for whole training steps of the
// BrainProp nets. Runs in CI on the emulated device (tests/CMakeLists.txt builds it twice); against the
// CUDA libraries it skips without a GPU, unless BIOPROP_REQUIRE_GPU=1. Tolerances: 1e-4 relative for single
// operations (FP32 with another summation order), 1e-3 for whole steps through several layers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "bioprop/config.hpp"
#include "bioprop/device.hpp"
#include "bioprop/rule.hpp"
#include "gpu_required.hpp"

namespace bioprop {
namespace {

class CudaParity : public ::testing::Test {
 protected:
  void SetUp() override {
    BIOPROP_SKIP_WITHOUT_GPU();
    gpu = make_cuda_backend(0);
  }
  Tensor random(const Shape& shape, uint64_t seed) {
    Tensor t(shape);
    cpu->random_normal(t, 0.0f, 1.0f, seed, 0);
    return t;
  }
  Tensor up(const Tensor& host) { return gpu->to_device(host); }
  void expect_close(const Tensor& on_gpu, const Tensor& reference, float tolerance, const std::string& what) {
    const Tensor host = gpu->to_host(on_gpu);
    ASSERT_EQ(host.shape(), reference.shape()) << what;
    for (size_t i = 0; i < host.numel(); ++i)
      ASSERT_NEAR(host.at(i), reference.at(i), tolerance * (1.0f + std::abs(reference.at(i)))) << what << " at " << i;
  }
  std::unique_ptr<Backend> cpu = make_cpu_backend();
  std::unique_ptr<Backend> gpu;
};

WindowGeometry geometry(int batch, int channels, int h, int w, int out_channels, int kernel, int stride, int padding) {
  WindowGeometry g{batch, channels, h, w, out_channels, 0, 0, kernel, kernel, stride, padding};
  g.out_h = (h + 2 * padding - kernel) / stride + 1;
  g.out_w = (w + 2 * padding - kernel) / stride + 1;
  return g;
}

TEST_F(CudaParity, PhiloxDrawsTheSameNumbers) {
  Tensor c({1001}), g({1001}, Device::cuda);
  cpu->random_uniform(c, -1, 2, 5, 9);
  gpu->random_uniform(g, -1, 2, 5, 9);
  expect_close(g, c, 0.0f, "uniform");
  cpu->random_normal(c, 0, 1, 5, 9);
  gpu->random_normal(g, 0, 1, 5, 9);
  expect_close(g, c, 1e-5f, "normal");  // logf, sinf, cosf: the device's may differ by an ulp
  Tensor x = random({1001}, 3), gx = up(x);
  cpu->multiply_by_noise(x, 0.1f, 5, 9);
  gpu->multiply_by_noise(gx, 0.1f, 5, 9);
  expect_close(gx, x, 1e-6f, "multiplicative noise");
}

TEST_F(CudaParity, GemmAllTransposes) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const Tensor a = random(ta ? Shape{37, 19} : Shape{19, 37}, 1), b = random(tb ? Shape{23, 37} : Shape{37, 23}, 2);
      Tensor c = random({19, 23}, 3);
      Tensor g = up(c);
      cpu->gemm(ta, tb, 1.5f, a, b, 0.5f, c);
      gpu->gemm(ta, tb, 1.5f, up(a), up(b), 0.5f, g);
      expect_close(g, c, 1e-4f, "gemm");
    }
}

TEST_F(CudaParity, ConvolutionAndLocallyConnected) {
  for (const WindowGeometry& g :
       {geometry(1, 1, 5, 5, 3, 3, 1, 0), geometry(3, 2, 9, 8, 5, 3, 2, 1), geometry(17, 3, 12, 11, 18, 5, 3, 2)}) {
    const Shape in{g.batch, g.in_channels, g.in_h, g.in_w}, out{g.batch, g.out_channels, g.out_h, g.out_w};
    const Tensor x = random(in, 1), dy = random(out, 2);
    for (bool local : {false, true}) {
      const Shape w_shape = local ? Shape{g.out_h, g.out_w, g.out_channels, g.in_channels, g.kernel_h, g.kernel_w}
                                  : Shape{g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
      const Tensor w = random(w_shape, 3);
      Tensor y(out), dx(in), dw = random(w_shape, 4);
      Tensor gy(out, Device::cuda), gdx(in, Device::cuda), gdw = up(dw);
      if (local) {
        cpu->locally_connected_forward(x, w, y, g);
        gpu->locally_connected_forward(up(x), up(w), gy, g);
        cpu->locally_connected_backward_data(dy, w, dx, g);
        gpu->locally_connected_backward_data(up(dy), up(w), gdx, g);
        cpu->locally_connected_backward_weight(dy, x, 0.5f, dw, g);
        gpu->locally_connected_backward_weight(up(dy), up(x), 0.5f, gdw, g);
      } else {
        cpu->conv2d_forward(x, w, y, g);
        gpu->conv2d_forward(up(x), up(w), gy, g);
        cpu->conv2d_backward_data(dy, w, dx, g);
        gpu->conv2d_backward_data(up(dy), up(w), gdx, g);
        cpu->conv2d_backward_filter(dy, x, 0.5f, dw, g);
        gpu->conv2d_backward_filter(up(dy), up(x), 0.5f, gdw, g);
      }
      expect_close(gy, y, 1e-4f, local ? "lc forward" : "conv forward");
      expect_close(gdx, dx, 1e-4f, local ? "lc backward data" : "conv backward data");
      expect_close(gdw, dw, 1e-4f, local ? "lc backward weight" : "conv backward filter");
    }
  }
}

TEST_F(CudaParity, Pooling) {
  const WindowGeometry g = geometry(2, 3, 7, 9, 3, 2, 2, 0);
  const Shape in{2, 3, 7, 9}, out{2, 3, g.out_h, g.out_w};
  const Tensor x = random(in, 1), dy = random(out, 2);
  Tensor y(out), dx(in), gy(out, Device::cuda), gdx(in, Device::cuda);
  cpu->max_pool_forward(x, y, g);
  gpu->max_pool_forward(up(x), gy, g);
  expect_close(gy, y, 0.0f, "max pool");
  cpu->max_pool_backward(x, dy, dx, g);
  gpu->max_pool_backward(up(x), up(dy), gdx, g);
  expect_close(gdx, dx, 1e-6f, "max pool backward");
  cpu->avg_pool_forward(x, y, g);
  gpu->avg_pool_forward(up(x), gy, g);
  expect_close(gy, y, 1e-5f, "avg pool");
  cpu->avg_pool_backward(x, dy, dx, g);
  gpu->avg_pool_backward(up(x), up(dy), gdx, g);
  expect_close(gdx, dx, 1e-5f, "avg pool backward");
}

TEST_F(CudaParity, LossesReductionsAndUpdates) {
  const Tensor z = random({33, 10}, 1);
  Tensor labels({33});
  for (int n = 0; n < 33; ++n) labels.at(static_cast<size_t>(n)) = static_cast<float>(n % 10);
  for (int n = 0; n < 5; ++n) {  // some rows right, so counting correct answers is tested both ways
    const float* row = z.data() + static_cast<size_t>(n) * 10;
    labels.at(static_cast<size_t>(n)) = static_cast<float>(std::max_element(row, row + 10) - row);
  }
  Tensor d({33, 10}), gd({33, 10}, Device::cuda);
  EXPECT_NEAR(gpu->softmax_cross_entropy(up(z), up(labels), gd), cpu->softmax_cross_entropy(z, labels, d), 1e-5);
  expect_close(gd, d, 1e-5f, "cross-entropy gradient");
  EXPECT_NEAR(gpu->mean_squared_error(up(z), up(labels), gd), cpu->mean_squared_error(z, labels, d), 1e-5);
  EXPECT_EQ(gpu->count_correct(up(z), up(labels)), cpu->count_correct(z, labels));
  // Loss and accuracy from one pass (one synchronisation) equal the two computed apart.
  const int correct = cpu->count_correct(z, labels);
  ASSERT_GT(correct, 0);
  ASSERT_LT(correct, 33);
  const ScoredLoss cross_entropy = gpu->scored_softmax_cross_entropy(up(z), up(labels), gd);
  EXPECT_NEAR(cross_entropy.loss, cpu->softmax_cross_entropy(z, labels, d), 1e-5);
  EXPECT_EQ(cross_entropy.correct, correct);
  expect_close(gd, d, 1e-5f, "scored cross-entropy gradient");
  const ScoredLoss squared = gpu->scored_mean_squared_error(up(z), up(labels), gd);
  EXPECT_NEAR(squared.loss, cpu->mean_squared_error(z, labels, d), 1e-5);
  EXPECT_EQ(squared.correct, correct);
  // Each trial's own loss (node perturbation's per-trial estimate), after each kind of loss.
  Tensor trial_losses, gpu_trial_losses;
  for (const bool squared_error : {false, true}) {
    if (squared_error) {
      gpu->mean_squared_error(up(z), up(labels), gd);
      cpu->mean_squared_error(z, labels, d);
    } else {
      gpu->softmax_cross_entropy(up(z), up(labels), gd);
      cpu->softmax_cross_entropy(z, labels, d);
    }
    gpu->trial_losses(gpu_trial_losses);
    cpu->trial_losses(trial_losses);
    ASSERT_EQ(trial_losses.shape(), Shape({33}));
    expect_close(gpu_trial_losses, trial_losses, 1e-5f,
                 squared_error ? "squared-error trial losses" : "cross-entropy trial losses");
  }
  EXPECT_NEAR(gpu->sum_of_squares(up(z)), cpu->sum_of_squares(z), 1e-3);
  // Target propagation's fused element-wise step, claimed bit for bit, also in place.
  const Tensor z2 = random({33, 10}, 6), z3 = random({33, 10}, 7);
  Tensor combined({33, 10}), gpu_combined({33, 10}, Device::cuda);
  cpu->linear_combination(1.0f, z, 0.5f, z2, -0.25f, z3, combined);
  gpu->linear_combination(1.0f, up(z), 0.5f, up(z2), -0.25f, up(z3), gpu_combined);
  expect_close(gpu_combined, combined, 0.0f, "linear_combination");
  cpu->linear_combination(2.0f, combined, -1.0f, z2, 0.0f, z2, combined);
  gpu->linear_combination(2.0f, gpu_combined, -1.0f, up(z2), 0.0f, up(z2), gpu_combined);
  expect_close(gpu_combined, combined, 0.0f, "linear_combination in place");
  Tensor w = random({500}, 4), v({500});
  Tensor gw = up(w), gv = up(v);
  const Tensor grad = random({500}, 5);
  // The optimisers and noise are claimed bit for bit (include/bioprop/fused_math.hpp).
  for (int step = 1; step <= 3; ++step) {
    cpu->sgd_step(w, grad, v, {0.1f, 0.9f, 1e-3f});
    gpu->sgd_step(gw, up(grad), gv, {0.1f, 0.9f, 1e-3f});
  }
  expect_close(gw, w, 0.0f, "sgd");
  Tensor m({500}), m2({500}), gm = up(m), gm2 = up(m2);
  for (int step = 1; step <= 3; ++step) {
    cpu->adam_step(w, grad, m, m2, {1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f}, step);
    gpu->adam_step(gw, up(grad), gm, gm2, {1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f}, step);
  }
  expect_close(gw, w, 0.0f, "adam");
}

TEST_F(CudaParity, AttentionGateChoosesTheSameActions) {
  const Tensor q = random({200, 10}, 6);
  Tensor labels({200});
  for (int n = 0; n < 200; ++n) labels.at(static_cast<size_t>(n)) = static_cast<float>(n % 10);
  GateOutputs c, g;
  Tensor tags({200, 10}), gtags({200, 10}, Device::cuda);
  cpu->attention_gate(q, labels, {0.3f, 1.0f}, 3, 7, c, tags);
  gpu->attention_gate(up(q), up(labels), {0.3f, 1.0f}, 3, 7, g, gtags);
  expect_close(g.actions, c.actions, 0.0f, "actions");
  expect_close(g.rpe, c.rpe, 1e-6f, "rpe");
  expect_close(g.greedy_correct, c.greedy_correct, 0.0f, "greedy correct");
  const ScoredLoss gpu_score = gpu->score_gate(g), cpu_score = cpu->score_gate(c);
  EXPECT_NEAR(gpu_score.loss, cpu_score.loss, 1e-6);
  EXPECT_EQ(gpu_score.correct, cpu_score.correct);
  expect_close(gtags, tags, 0.0f, "tags");
}

// The fused three-factor updates (RPE applied while the batch is staged) against the CPU's scale-then-GEMM.
TEST_F(CudaParity, ThreeFactorUpdates) {
  const int batch = 37, outputs = 21, inputs = 45;
  const Tensor tags = random({batch, outputs}, 11), pre = random({batch, inputs}, 12), rpe = random({batch}, 13);
  Tensor dw = random({outputs, inputs}, 14), gdw = up(dw);
  cpu->dense_three_factor_update(tags, pre, rpe, -0.25f, 0.5f, dw);
  gpu->dense_three_factor_update(up(tags), up(pre), up(rpe), -0.25f, 0.5f, gdw);
  expect_close(gdw, dw, 1e-4f, "dense three-factor update");

  const WindowGeometry g = geometry(19, 3, 9, 10, 17, 3, 2, 1);
  const Shape w_shape{g.out_h, g.out_w, g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
  const Tensor x = random({g.batch, g.in_channels, g.in_h, g.in_w}, 15);
  const Tensor lc_tags = random({g.batch, g.out_channels, g.out_h, g.out_w}, 16), lc_rpe = random({g.batch}, 17);
  Tensor lc_dw(w_shape), lc_gdw(w_shape, Device::cuda);
  cpu->locally_connected_three_factor_update(lc_tags, x, lc_rpe, -0.25f, 0.0f, lc_dw, g);
  gpu->locally_connected_three_factor_update(up(lc_tags), up(x), up(lc_rpe), -0.25f, 0.0f, lc_gdw, g);
  expect_close(lc_gdw, lc_dw, 1e-4f, "locally connected three-factor update");
}

TEST_F(CudaParity, FeedbackProjection) {
  const int rows = 70, classes = 10;
  const std::vector<int> widths{300, 17, 64};
  const Tensor e = random({rows, classes}, 40), b = random({classes, 381}, 41);
  std::vector<Tensor> pre, post, out, gpre, gpost, gout;
  for (size_t s = 0; s < widths.size(); ++s) {
    pre.push_back(random({rows, widths[s]}, 50 + s));
    post.emplace_back(pre.back().shape());
    cpu->activation_forward(Activation::relu, pre.back(), post.back());
    out.emplace_back(pre.back().shape());
    gpre.push_back(up(pre.back()));
    gpost.push_back(up(post.back()));
    gout.emplace_back(pre.back().shape(), Device::cuda);
  }
  std::vector<ProjectionSlice> c, g;
  for (size_t s = 0, first = 0; s < widths.size(); first += static_cast<size_t>(widths[s]), ++s) {
    c.push_back({static_cast<int>(first), &out[s], s != 1, Activation::relu, &pre[s], &post[s]});
    g.push_back({static_cast<int>(first), &gout[s], s != 1, Activation::relu, &gpre[s], &gpost[s]});
  }
  cpu->project_feedback(e, b, c);
  gpu->project_feedback(up(e), up(b), g);
  for (size_t s = 0; s < widths.size(); ++s) expect_close(gout[s], out[s], 1e-4f, "projection slice");
}

TEST_F(CudaParity, BatchNorm) {
  for (const Shape& shape : {Shape{5, 7, 9, 11}, Shape{3, 13}, Shape{1, 2, 3, 3}}) {
    const Shape channels{shape[1]};
    const Tensor x = random(shape, 30), dy = random(shape, 31), gamma = random(channels, 32),
                 beta = random(channels, 33);
    Tensor mean(channels), variance(channels), gmean(channels, Device::cuda), gvariance(channels, Device::cuda);
    cpu->batch_norm_statistics(x, mean, variance);
    gpu->batch_norm_statistics(up(x), gmean, gvariance);
    expect_close(gmean, mean, 1e-5f, "mean");
    expect_close(gvariance, variance, 1e-5f, "variance");
    Tensor y(shape), gy(shape, Device::cuda);
    cpu->batch_norm_forward(x, mean, variance, 1e-3f, gamma, beta, y);
    gpu->batch_norm_forward(up(x), up(mean), up(variance), 1e-3f, up(gamma), up(beta), gy);
    expect_close(gy, y, 1e-5f, "forward");
    Tensor sx(channels), sd(channels), gsx(channels, Device::cuda), gsd(channels, Device::cuda);
    cpu->batch_norm_sums(dy, x, mean, variance, 1e-3f, 0.0f, sx, sd);
    gpu->batch_norm_sums(up(dy), up(x), up(mean), up(variance), 1e-3f, 0.0f, gsx, gsd);
    expect_close(gsx, sx, 1e-4f, "sum of dy * xhat");
    expect_close(gsd, sd, 1e-4f, "sum of dy");
    Tensor dx(shape), gdx(shape, Device::cuda);
    cpu->batch_norm_backward_data(dy, x, mean, variance, 1e-3f, gamma, sx, sd, dx);
    gpu->batch_norm_backward_data(up(dy), up(x), up(mean), up(variance), 1e-3f, up(gamma), up(sx), up(sd), gdx);
    expect_close(gdx, dx, 1e-4f, "backward data");
  }
}

// The target-propagation rules learn inverses of dense and locally connected layers only (they refuse
// conv nets: TargetPropagationTest.RefusesConvolutionsAndNetsWithoutHiddenLayers): their own test below.
bool learns_inverses(const std::string& rule) {
  return rule == "tp" || rule == "dtp" || rule == "dtp_parallel" || rule == "sdtp" || rule == "ao_sdtp";
}

// One training step (forward, credit assignment, gradients) of `rule_name` on `net_name`, in training
// mode (batch statistics, the same Philox dropout masks, exploration and perturbation draws on both
// backends), matches the CPU step: the loss, and every trainable parameter's update.
void expect_same_step(Backend& cpu, Backend& gpu, const std::string& rule_name, const std::string& net_name,
                      const Options& rule_options = Options()) {
  auto cpu_net = build_network(load_net_source(net_name), {1, 28, 28}, 10, 3, cpu);
  auto gpu_net = build_network(load_net_source(net_name), {1, 28, 28}, 10, 3, gpu);
  Options o1 = rule_options, o2 = rule_options;
  auto cpu_rule = make_rule(rule_name, o1);
  auto gpu_rule = make_rule(rule_name, o2);
  cpu_rule->attach(*cpu_net, cpu, 1);
  gpu_rule->attach(*gpu_net, gpu, 1);
  cpu_net->set_training(true);
  gpu_net->set_training(true);
  Batch batch{Tensor({8, 1, 28, 28}), Tensor({8})};
  cpu.random_normal(batch.inputs, 0.0f, 1.0f, 7, 0);
  for (int n = 0; n < 8; ++n) batch.labels.at(static_cast<size_t>(n)) = static_cast<float>(n);
  const StepResult c = cpu_rule->step(*cpu_net, batch, cpu);
  const StepResult g = gpu_rule->step(*gpu_net, Batch{gpu.to_device(batch.inputs), gpu.to_device(batch.labels)}, gpu);
  const std::string what = rule_name + " on " + net_name;
  EXPECT_NEAR(g.loss, c.loss, 1e-3 * (1 + std::abs(c.loss))) << what;
  EXPECT_EQ(g.correct, c.correct) << what;
  const auto cp = cpu_rule->trainable(*cpu_net), gp = gpu_rule->trainable(*gpu_net);
  ASSERT_EQ(cp.size(), gp.size()) << what;
  // Max pooling after ReLU and batch norm meets near-ties (units at ReLU's edge): FP32 rounding on the
  // two backends may resolve one differently and route one gradient to another input, which moves
  // every gradient below it a little. Nets with max pooling are compared by each tensor's relative L2
  // error (measured: at most 0.4% on `deep`), the others element by element.
  // The difference correction t = h + g(t_above) - g(h_above) subtracts two nearly equal inverse outputs:
  // the backends' summation orders then move a small target shift by up to a few percent in single
  // elements (measured: 1.5% in one batch-norm scale on loccon), so those rules are compared the same way.
  const bool max_pooling = load_net_source(net_name).text.find("max_pool2d") != std::string::npos,
             by_norm = max_pooling || learns_inverses(rule_name);
  for (size_t i = 0; i < cp.size(); ++i) {
    const Tensor host = gpu.to_host(gp[i]->grad);
    double scale = 0, error_squares = 0, squares = 0;
    for (size_t j = 0; j < host.numel(); ++j) {
      const double reference = cp[i]->grad.at(j), difference = host.at(j) - reference;
      scale = std::max(scale, std::abs(reference));
      error_squares += difference * difference;
      squares += reference * reference;
    }
    if (by_norm) {
      EXPECT_LT(std::sqrt(error_squares / std::max(squares, 1e-30)), 1e-2) << what << " " << cp[i]->name;
      continue;
    }
    for (size_t j = 0; j < host.numel(); ++j)
      ASSERT_NEAR(host.at(j), cp[i]->grad.at(j), 1e-3 * scale + 1e-6) << what << " " << cp[i]->name << " at " << j;
  }
}

// Every BrainProp net with bp and BrainProp, then every registered rule on every one of them.
TEST_F(CudaParity, WholeStepsOnTheBrainPropNets) {
  for (const char* rule_name : {"bp", "brainprop"})
    for (const char* net_name : {"dense", "conv", "loccon", "deep"}) expect_same_step(*cpu, *gpu, rule_name, net_name);
}

TEST_F(CudaParity, EveryRuleTakesTheSameStepOnEveryReferenceNet) {
  for (const char* net_name : {"dense", "conv", "loccon", "deep"})
    for (const RuleInfo& rule : registered_rules())  // lansdell: an alias of learned_feedback; dendrites: below
      if (!learns_inverses(rule.name) && rule.name != "lansdell" && rule.name != "dendrites")
        expect_same_step(*cpu, *gpu, rule.name, net_name);
}

// learned_feedback's direct (DFA-like) variant: its own projections, regression and walk down; and its
// each_layer variant (a noisy pass per B, batch norm's statistics held) on the conv net.
TEST_F(CudaParity, LearnedFeedbackVariantSteps) {
  Options direct;
  direct.set("direct", true);
  for (const char* net_name : {"dense", "conv", "loccon"})
    expect_same_step(*cpu, *gpu, "learned_feedback", net_name, direct);
  Options each_layer;
  each_layer.set("each_layer", true);
  expect_same_step(*cpu, *gpu, "learned_feedback", "conv", each_layer);
}

// Targets, inverse training (dense and transposed locally connected inverses, with Adam) and the local
// updates of every target-propagation rule, on the dense and locally connected nets.
TEST_F(CudaParity, TargetPropagationStepsOnDenseAndLocallyConnectedNets) {
  for (const char* net_name : {"dense", "loccon", "tp_mnist_fc", "tp_mnist_lc"})
    for (const RuleInfo& rule : registered_rules())
      if (learns_inverses(rule.name)) expect_same_step(*cpu, *gpu, rule.name, net_name);
}

// One millisecond of each kind of segregated-dendrite layer, spiking: the same Philox draws make the same
// spike counts, so somata, traces, PSPs and window sums agree.
TEST_F(CudaParity, DendriteStepOfEveryLayerKind) {
  const int n = 3, units = 70;
  Tensor labels = Tensor::from({n}, std::vector<float>{2, 0, 5});
  for (const DendriteLayer layer : {DendriteLayer::input, DendriteLayer::hidden, DendriteLayer::output}) {
    Tensor drive({n, units}), apical = random({n, units}, 5), soma = random({n, units}, 6);
    cpu->random_uniform(drive, layer == DendriteLayer::input ? 0.0f : -3.0f,
                        layer == DendriteLayer::input ? 0.2f : 3.0f, 4, 0);
    Tensor fast = random({n, units}, 7), slow = random({n, units}, 8), psp({n, units}), sums[4];
    for (Tensor& t : sums) t = random({n, units}, 9);
    Tensor g_drive = up(drive), g_apical = up(apical), g_labels = up(labels), g_soma = up(soma), g_fast = up(fast),
           g_slow = up(slow), g_psp = up(psp), g_sums[4] = {up(sums[0]), up(sums[1]), up(sums[2]), up(sums[3])};
    auto run = [&](Backend& b, Tensor& d, Tensor& a, Tensor& l, Tensor& s, Tensor& f, Tensor& sl, Tensor& p,
                   Tensor* sum) {
      DendriteStep step;
      step.layer = layer;
      step.drive = &d;
      step.apical = layer == DendriteLayer::hidden ? &a : nullptr;
      step.labels = layer == DendriteLayer::output ? &l : nullptr;
      step.soma = &s;
      step.trace_fast = &f;
      step.trace_slow = &sl;
      step.psp = &p;
      step.soma_sum = &sum[0];
      step.apical_sum = layer == DendriteLayer::hidden ? &sum[1] : nullptr;
      step.rate_sum = &sum[2];
      step.psp_sum = &sum[3];
      step.seed = 21;
      step.offset = 5u << 24;
      for (int t = 0; t < 4; ++t) b.dendrite_step(step);
    };
    run(*cpu, drive, apical, labels, soma, fast, slow, psp, sums);
    run(*gpu, g_drive, g_apical, g_labels, g_soma, g_fast, g_slow, g_psp, g_sums);
    const std::string what = "layer kind " + std::to_string(static_cast<int>(layer));
    expect_close(g_soma, soma, 1e-5f, what + " soma");
    expect_close(g_fast, fast, 1e-5f, what + " fast trace");
    expect_close(g_slow, slow, 1e-5f, what + " slow trace");
    expect_close(g_psp, psp, 1e-5f, what + " psp");
    for (int i = 0; i < 4; ++i) expect_close(g_sums[i], sums[i], 1e-5f, what + " sum " + std::to_string(i));
  }
}

// A whole simulated example on the paper's two-hidden-layer net (shortened phases): the same updates of every
// weight, loss and answers, and the same evaluation outputs, spiking and in the non-spiking mode. Spike counts
// come from the same draws; a rate that differs in its last bit could flip a count only for a draw within
// an ulp of a Poisson boundary, which these seeds do not meet.
TEST_F(CudaParity, DendriteExampleOnTheDeepNet) {
  for (const bool spiking : {true, false}) {
    auto options = [&] {
      Options o;
      for (const auto& [key, value] : std::initializer_list<std::pair<const char*, long long>>{
               {"forward_ms", 30}, {"target_ms", 30}, {"window_ms", 10}, {"test_ms", 40}, {"test_window_ms", 20}})
        o.set(key, value);
      o.set("spiking", spiking);
      return o;
    };
    const NetSource source = load_net_source("dendrites-deep");
    auto cpu_net = build_network(source, {1, 28, 28}, 10, 3, *cpu);
    auto gpu_net = build_network(source, {1, 28, 28}, 10, 3, *gpu);
    Options o1 = options(), o2 = options();
    auto cpu_rule = make_rule("dendrites", o1);
    auto gpu_rule = make_rule("dendrites", o2);
    cpu_rule->attach(*cpu_net, *cpu, 1);
    gpu_rule->attach(*gpu_net, *gpu, 1);
    Batch batch{Tensor({4, 1, 28, 28}), Tensor::from({4}, std::vector<float>{3, 1, 4, 1})};
    cpu->random_uniform(batch.inputs, 0.0f, 1.0f, 7, 0);
    const StepResult c = cpu_rule->step(*cpu_net, batch, *cpu);
    const StepResult g = gpu_rule->step(*gpu_net, Batch{up(batch.inputs), up(batch.labels)}, *gpu);
    const std::string what = spiking ? "spiking" : "non-spiking";
    EXPECT_NEAR(g.loss, c.loss, 1e-4 * (1 + std::abs(c.loss))) << what;
    EXPECT_EQ(g.correct, c.correct) << what;
    const auto cp = cpu_net->parameters(), gp = gpu_net->parameters();
    for (size_t i = 0; i < cp.size(); ++i) expect_close(gp[i]->grad, cp[i]->grad, 1e-3f, what + " " + cp[i]->name);
    expect_close(gpu_rule->infer(*gpu_net, up(batch.inputs), *gpu), cpu_rule->infer(*cpu_net, batch.inputs, *cpu),
                 1e-4f, what + " evaluation outputs");
  }
}

}  // namespace
}  // namespace bioprop
