// The smaller hand-written kernels under the CUDA emulation against the CPU reference: losses, bias,
// reductions, optimiser steps and the element-wise helpers of the rules.
#include <gtest/gtest.h>

#include "bioprop/backend.hpp"
#include "kernels/batch_norm.cuh"
#include "kernels/elementwise.cuh"
#include "kernels/feedback_projection.cuh"
#include "kernels/losses.cuh"
#include "kernels/optimizers.cuh"
#include "kernels/reductions.cuh"

namespace bioprop {
namespace {

class SmallKernels : public ::testing::Test {
 protected:
  Tensor random(const Shape& shape, uint64_t seed, float stddev = 1.0f) {
    Tensor t(shape);
    cpu->random_normal(t, 0.0f, stddev, seed, 0);
    return t;
  }
  static void expect_close(const Tensor& actual, const Tensor& expected, float tolerance, const char* what) {
    ASSERT_EQ(actual.numel(), expected.numel()) << what;
    for (size_t i = 0; i < actual.numel(); ++i)
      ASSERT_NEAR(actual.at(i), expected.at(i), tolerance * (1.0f + std::abs(expected.at(i)))) << what << " at " << i;
  }
  double emulated_reduction(kernels::Reduction kind, const Tensor& a, const Tensor* b = nullptr) {
    std::vector<double> workspace(kernels::reduce_blocks(a.numel()) + 1);
    kernels::reduce(kind, a.data(), b ? b->data() : nullptr, a.numel(), workspace.data(), nullptr);
    return workspace.back();
  }
  std::unique_ptr<Backend> cpu = make_cpu_backend();
};

TEST_F(SmallKernels, OutputLossesAndAccuracy) {
  const int batch = 37, classes = 10;
  const Tensor z = random({batch, classes}, 1, 3.0f);
  Tensor labels({batch});
  for (int n = 0; n < batch; ++n) labels.at(static_cast<size_t>(n)) = static_cast<float>((n * 3) % classes);
  for (auto kind : {kernels::OutputLoss::cross_entropy, kernels::OutputLoss::mean_squared_error}) {
    Tensor d_cpu({batch, classes}), d_emulated({batch, classes}), rows({batch}), correct({batch});
    const float loss = kind == kernels::OutputLoss::cross_entropy ? cpu->softmax_cross_entropy(z, labels, d_cpu)
                                                                  : cpu->mean_squared_error(z, labels, d_cpu);
    kernels::output_loss(kind, z.data(), labels.data(), batch, classes, d_emulated.data(), rows.data(), correct.data(),
                         nullptr);
    expect_close(d_emulated, d_cpu, 1e-5f, "loss gradient");
    EXPECT_NEAR(emulated_reduction(kernels::Reduction::sum, rows) / batch, loss, 1e-4);
    EXPECT_EQ(emulated_reduction(kernels::Reduction::sum, correct), cpu->count_correct(z, labels));
  }
  Tensor flags({batch});  // accuracy only: no loss or gradient buffers at all
  kernels::output_loss(kernels::OutputLoss::accuracy_only, z.data(), labels.data(), batch, classes, nullptr, nullptr,
                       flags.data(), nullptr);
  EXPECT_EQ(emulated_reduction(kernels::Reduction::sum, flags), cpu->count_correct(z, labels));
  EXPECT_GT(cpu->count_correct(z, labels), 0) << "the check needs some correct rows";
  Tensor targets = random({batch}, 2), outputs = random({batch, 1}, 3), d_cpu({batch, 1}), d_emulated({batch, 1}),
         rows({batch}), correct({batch});
  const float loss = cpu->regression_error(outputs, targets, d_cpu);
  kernels::output_loss(kernels::OutputLoss::regression, outputs.data(), targets.data(), batch, 1, d_emulated.data(),
                       rows.data(), correct.data(), nullptr);
  expect_close(d_emulated, d_cpu, 1e-6f, "regression gradient");
  EXPECT_NEAR(emulated_reduction(kernels::Reduction::sum, rows) / batch, loss, 1e-5);
}

TEST_F(SmallKernels, ReductionsOverManyBlocks) {
  const Tensor a = random({70001}, 4), b = random({70001}, 5);
  EXPECT_NEAR(emulated_reduction(kernels::Reduction::sum_of_squares, a), cpu->sum_of_squares(a),
              1e-6 * cpu->sum_of_squares(a));
  EXPECT_NEAR(emulated_reduction(kernels::Reduction::dot, a, &b), cpu->dot(a, b), 1e-3);
}

TEST_F(SmallKernels, BiasBroadcastAndGradient) {
  for (const Shape& shape : {Shape{5, 7}, Shape{3, 4, 5, 6}}) {
    const size_t count = static_cast<size_t>(shape[1]), inner = shape.sample_size() / count;
    const Tensor bias = random({shape[1]}, 6), dy = random(shape, 7);
    Tensor y_cpu = random(shape, 8), y_emulated = y_cpu.clone();
    cpu->add_bias(y_cpu, bias);
    kernels::add_bias(y_emulated.data(), bias.data(), inner, count, y_emulated.numel(), nullptr);
    expect_close(y_emulated, y_cpu, 0.0f, "add_bias");
    Tensor g_cpu = random({shape[1]}, 9), g_emulated = g_cpu.clone();
    cpu->bias_grad(dy, 0.5f, g_cpu);
    kernels::bias_grad(dy.data(), inner, count, static_cast<size_t>(shape[0]), 0.5f, g_emulated.data(), nullptr);
    expect_close(g_emulated, g_cpu, 1e-5f, "bias_grad");
  }
}

// Statistics, forward, gradient sums and backward-data of batch norm: per channel of images (more
// values per channel than threads per block), per feature of vectors, and batch 1.
TEST_F(SmallKernels, BatchNormMatchesTheCpu) {
  // {3, 2, 61, 67}: 12261 values per channel, split over 3 blocks per channel.
  for (const Shape& shape : {Shape{3, 5, 17, 19}, Shape{7, 6}, Shape{1, 4, 3, 3}, Shape{3, 2, 61, 67}}) {
    const Shape channels{shape[1]};
    const kernels::ChannelLayout layout{shape.sample_size() / static_cast<size_t>(shape[1]),
                                        static_cast<size_t>(shape[1]), static_cast<size_t>(shape[0])};
    Tensor x = random(shape, 20, 2.0f);
    for (float& v : x.values()) v += 3.0f;  // a mean far from 0 tests the two-pass variance
    const Tensor dy = random(shape, 21), gamma = random(channels, 22), beta = random(channels, 23);
    const float epsilon = 1e-3f;

    Tensor mean({shape[1]}), variance({shape[1]}), mean_e({shape[1]}), variance_e({shape[1]});
    cpu->batch_norm_statistics(x, mean, variance);
    std::vector<double> workspace(kernels::batch_norm_workspace(layout));
    kernels::batch_norm_statistics(x.data(), layout, mean_e.data(), variance_e.data(), workspace.data(), nullptr);
    expect_close(mean_e, mean, 1e-5f, "mean");
    expect_close(variance_e, variance, 1e-5f, "variance");

    Tensor y(shape), y_e(shape);
    cpu->batch_norm_forward(x, mean, variance, epsilon, gamma, beta, y);
    kernels::batch_norm_forward(x.data(), layout, mean.data(), variance.data(), epsilon, gamma.data(), beta.data(),
                                y_e.data(), nullptr);
    expect_close(y_e, y, 1e-5f, "forward");

    Tensor sx = random(channels, 24), sd = random(channels, 25), sx_e = sx.clone(), sd_e = sd.clone();
    cpu->batch_norm_sums(dy, x, mean, variance, epsilon, 0.5f, sx, sd);
    kernels::batch_norm_sums(dy.data(), x.data(), layout, mean.data(), variance.data(), epsilon, 0.5f, sx_e.data(),
                             sd_e.data(), workspace.data(), nullptr);
    expect_close(sx_e, sx, 1e-4f, "sum of dy * xhat");
    expect_close(sd_e, sd, 1e-4f, "sum of dy");

    Tensor dx(shape), dx_e(shape);
    cpu->batch_norm_backward_data(dy, x, mean, variance, epsilon, gamma, sx, sd, dx);
    kernels::batch_norm_backward_data(dy.data(), x.data(), layout, mean.data(), variance.data(), epsilon, gamma.data(),
                                      sx.data(), sd.data(), dx_e.data(), nullptr);
    expect_close(dx_e, dx, 1e-5f, "backward data");
  }
}

// DFA's fused projection: product, slicing and derivative in one launch. Rows and columns that are not
// multiples of the 32 x 32 tile, more classes than one tile, slices with and without a derivative, and
// more slices than one launch takes (so the launcher splits them).
TEST_F(SmallKernels, FeedbackProjectionMatchesTheCpu) {
  const int rows = 37, classes = 45;
  std::vector<int> widths{75, 1, 40, 33};
  for (int extra = 0; extra < kernels::max_projection_targets; ++extra) widths.push_back(3 + extra % 5);
  int width = 0;
  for (int w : widths) width += w;
  const Tensor e = random({rows, classes}, 40), b = random({classes, width}, 41);
  std::vector<Tensor> pre, post, out_cpu, out_emulated;
  for (size_t s = 0; s < widths.size(); ++s) {
    const Shape shape{rows, widths[s]};
    pre.push_back(random(shape, 50 + s));
    post.push_back(Tensor(shape));
    cpu->activation_forward(s % 2 ? Activation::tanh : Activation::relu, pre.back(), post.back());
    out_cpu.emplace_back(shape);
    out_emulated.emplace_back(shape);
  }
  std::vector<ProjectionSlice> slices;
  std::vector<kernels::ProjectionTarget> targets;
  int first = 0;
  for (size_t s = 0; s < widths.size(); ++s) {
    const bool derivative = s % 3 != 2;
    const Activation f = s % 2 ? Activation::tanh : Activation::relu;
    slices.push_back({first, &out_cpu[s], derivative, f, &pre[s], &post[s]});
    targets.push_back({first, widths[s], out_emulated[s].data(), pre[s].data(), post[s].data(), derivative, f});
    first += widths[s];
  }
  cpu->project_feedback(e, b, slices);
  kernels::feedback_projection(e.data(), b.data(), rows, classes, width, targets.data(),
                               static_cast<int>(targets.size()), nullptr);
  for (size_t s = 0; s < widths.size(); ++s) expect_close(out_emulated[s], out_cpu[s], 1e-5f, "projection slice");
  double sum = 0;  // the test is not vacuous: the slices hold the product
  for (const Tensor& t : out_cpu) sum += cpu->sum_of_squares(t);
  EXPECT_GT(sum, 1.0);
}

TEST_F(SmallKernels, OptimizerSteps) {
  const Tensor g = random({1000}, 10);
  Tensor w_cpu = random({1000}, 11), v_cpu = random({1000}, 12), w_emulated = w_cpu.clone(), v_emulated = v_cpu.clone();
  const SgdSettings sgd{0.1f, 0.9f, 1e-3f};
  cpu->sgd_step(w_cpu, g, v_cpu, sgd);
  kernels::sgd_step(w_emulated.data(), g.data(), v_emulated.data(), sgd, 1000, nullptr);
  expect_close(w_emulated, w_cpu, 1e-6f, "sgd weights");
  Tensor m_cpu({1000}), s_cpu({1000}), m_emulated({1000}), s_emulated({1000});
  const AdamSettings adam{1e-2f, 0.9f, 0.999f, 1e-8f, 1e-4f};
  for (int step = 1; step <= 3; ++step) {
    cpu->adam_step(w_cpu, g, m_cpu, s_cpu, adam, step);
    kernels::adam_step(w_emulated.data(), g.data(), m_emulated.data(), s_emulated.data(), adam, step, 1000, nullptr);
  }
  expect_close(w_emulated, w_cpu, 1e-5f, "adam weights");
}

TEST_F(SmallKernels, SignNoiseAndColumnSlices) {
  const Tensor x = random({13, 11}, 13);
  Tensor s_cpu(x.shape()), s_emulated(x.shape());
  cpu->sign(x, 0.3f, s_cpu);
  kernels::sign(x.data(), 0.3f, s_emulated.data(), x.numel(), nullptr);
  expect_close(s_emulated, s_cpu, 0.0f, "sign");
  Tensor n_cpu = x.clone(), n_emulated = x.clone();
  cpu->multiply_by_noise(n_cpu, 0.5f, 3, 77);
  kernels::multiply_by_noise(n_emulated.data(), n_emulated.numel(), 0.5f, 3, 77, nullptr);
  expect_close(n_emulated, n_cpu, 1e-6f, "multiply_by_noise");
  const Tensor signs = random(x.shape(), 14);
  Tensor d_cpu = x.clone(), d_emulated = x.clone();
  cpu->clamp_to_signs(d_cpu, signs);
  kernels::clamp_to_signs(d_emulated.data(), signs.data(), d_emulated.numel(), nullptr);
  expect_close(d_emulated, d_cpu, 0.0f, "clamp_to_signs");
  Tensor m_cpu(x.shape()), m_emulated(x.shape()), p_cpu(x.shape()), p_emulated(x.shape());
  cpu->dropout_mask(m_cpu, 0.4f, 8, 3, 5);  // from element 5: a rank's place, off a block boundary
  kernels::dropout_mask(m_emulated.data(), m_emulated.numel(), 0.4f, 8, 3, 5, nullptr);
  expect_close(m_emulated, m_cpu, 0.0f, "dropout_mask");
  cpu->dropout_mask(m_cpu, 0.4f, 8, 3);
  kernels::dropout_mask(m_emulated.data(), m_emulated.numel(), 0.4f, 8, 3, 0, nullptr);
  expect_close(m_emulated, m_cpu, 0.0f, "dropout_mask");
  cpu->multiply(x, m_cpu, p_cpu);
  kernels::multiply(x.data(), m_cpu.data(), p_emulated.data(), x.numel(), nullptr);
  expect_close(p_emulated, p_cpu, 0.0f, "multiply");
  Tensor c_cpu(x.shape()), c_emulated(x.shape());
  cpu->linear_combination(0.5f, x, -2.0f, m_cpu, 3.0f, p_cpu, c_cpu);
  kernels::linear_combination(0.5f, x.data(), -2.0f, m_cpu.data(), 3.0f, p_cpu.data(), c_emulated.data(), x.numel(),
                              nullptr);
  expect_close(c_emulated, c_cpu, 0.0f, "linear_combination");
  for (size_t i = 0; i < x.numel(); i += 97)
    EXPECT_NEAR(c_cpu.at(i), 0.5f * x.at(i) - 2.0f * m_cpu.at(i) + 3.0f * p_cpu.at(i), 1e-5f) << "at " << i;
  cpu->linear_combination(1.0f, c_cpu, 1.0f, x, -1.0f, x, c_cpu);  // out aliasing an input
  expect_close(c_cpu, c_emulated, 1e-5f, "linear_combination in place");
}

}  // namespace
}  // namespace bioprop
