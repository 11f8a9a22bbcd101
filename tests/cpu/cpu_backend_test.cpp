// CpuBackend against direct (naive) formulas: the reference must itself be right.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "bioprop/backend.hpp"
#include "bioprop/fused_math.hpp"
#include "bioprop/rng.hpp"
#include "cpu/philox_fill.hpp"
#include "cpu/sgemm.hpp"
#include "error_message.hpp"
#include "gradient_check.hpp"

namespace bioprop {
namespace {

using testing::random_tensor;

class CpuBackendTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend = make_cpu_backend();
};

// Small and large enough for the libraries' blocked kernels (host/cpu/sgemm.hpp), every transpose.
TEST_F(CpuBackendTest, GemmAllTransposes) {
  for (const auto& [m, k, n] : {std::array{5, 7, 3}, std::array{70, 300, 45}, std::array{45, 300, 70}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const Tensor a = random_tensor(*backend, ta ? Shape{k, m} : Shape{m, k}, 1);
        const Tensor b = random_tensor(*backend, tb ? Shape{n, k} : Shape{k, n}, 2);
        Tensor c = random_tensor(*backend, {m, n}, 3);
        const Tensor c0 = c.clone();
        backend->gemm(ta, tb, 2.0f, a, b, 0.5f, c);
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double sum = 0;
            for (int l = 0; l < k; ++l) sum += a.at(ta ? l * m + i : i * k + l) * b.at(tb ? j * k + l : l * n + j);
            ASSERT_NEAR(c.at(i * n + j), 2 * sum + 0.5 * c0.at(i * n + j), 1e-4 * std::sqrt(k)) << m << ta << tb;
          }
      }
}

// Batch norm's fused training calls (statistics and output; sums and dx; channel by channel) give the same bits
// as the separate calls, on images and on features.
TEST_F(CpuBackendTest, BatchNormTrainingCallsEqualTheSeparateCalls) {
  for (const Shape& shape : {Shape{6, 5, 7, 9}, Shape{33, 12}}) {
    const Shape channels{shape[1]};
    const Tensor x = random_tensor(*backend, shape, 1), dy = random_tensor(*backend, shape, 2),
                 gamma = random_tensor(*backend, channels, 3), beta = random_tensor(*backend, channels, 4);
    const float epsilon = 1e-3f;
    Tensor mean(channels), variance(channels), y(shape), fused_mean(channels), fused_variance(channels), fused_y(shape);
    backend->batch_norm_statistics(x, mean, variance);
    backend->batch_norm_forward(x, mean, variance, epsilon, gamma, beta, y);
    backend->batch_norm_training_forward(x, epsilon, gamma, beta, fused_mean, fused_variance, fused_y);
    for (auto [separate, fused] : {std::pair{&mean, &fused_mean}, {&variance, &fused_variance}, {&y, &fused_y}})
      for (size_t i = 0; i < separate->numel(); ++i) ASSERT_EQ(separate->at(i), fused->at(i)) << shape.str() << i;

    Tensor sum_dy_xhat(channels), sum_dy(channels), dx(shape), fused_sum_dy_xhat = random_tensor(*backend, channels, 5),
                                                               fused_sum_dy(channels), fused_dx(shape);
    backend->batch_norm_sums(dy, x, mean, variance, epsilon, 0.0f, sum_dy_xhat, sum_dy);
    backend->batch_norm_backward_data(dy, x, mean, variance, epsilon, gamma, sum_dy_xhat, sum_dy, dx);
    backend->batch_norm_training_backward(dy, x, mean, variance, epsilon, gamma, fused_sum_dy_xhat, fused_sum_dy,
                                          fused_dx);
    for (auto [separate, fused] :
         {std::pair{&sum_dy_xhat, &fused_sum_dy_xhat}, {&sum_dy, &fused_sum_dy}, {&dx, &fused_dx}})
      for (size_t i = 0; i < separate->numel(); ++i) ASSERT_EQ(separate->at(i), fused->at(i)) << shape.str() << i;
  }
}

// Both libraries of host/cpu/sgemm.hpp against the formula, with leading dimensions wider than the operands; with
// more columns than rows oneDNN's a b^T is computed through its transpose. beta = 0 never reads c (NaN there).
TEST(CpuGemmChoice, BothLibrariesComputeTheProduct) {
  const int k = 300, pad = 3;
  for (const auto& [m, n] : {std::array{70, 45}, std::array{45, 70}}) {
    std::vector<float> a(static_cast<size_t>(k) * (m + pad)), b(static_cast<size_t>(k) * (n + pad));
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 7919) % 23) / 23.0f - 0.5f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 104729) % 19) / 19.0f - 0.5f;
    for (const CpuGemm library : {CpuGemm::openblas, CpuGemm::onednn})
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (const float beta : {0.5f, 0.0f}) {
            const int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
            std::vector<float> c(static_cast<size_t>(m) * ldc, beta == 0.0f ? std::nanf("") : 1.0f);
            sgemm(library, ta, tb, m, n, k, 2.0f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
            for (int i = 0; i < m; ++i)
              for (int j = 0; j < n; ++j) {
                double sum = 0;
                for (int l = 0; l < k; ++l)
                  sum +=
                      static_cast<double>(a[ta ? static_cast<size_t>(l) * lda + i : static_cast<size_t>(i) * lda + l]) *
                      b[tb ? static_cast<size_t>(j) * ldb + l : static_cast<size_t>(l) * ldb + j];
                ASSERT_NEAR(c[static_cast<size_t>(i) * ldc + j], 2 * sum + beta, 1e-3)
                    << (library == CpuGemm::onednn ? "onednn " : "openblas ") << m << "x" << n << " " << ta << tb
                    << " beta " << beta;
              }
          }
  }
}

TEST(CpuGemmChoice, AnUnknownLibraryIsAnErrorNamingIt) {
  setenv("BIOPROP_CPU_GEMM", "mkl", 1);
  const std::string message = testing::error_of([] { cpu_gemm_from_environment(); });
  for (const char* part : {"BIOPROP_CPU_GEMM", "'mkl'", "onednn", "openblas"})
    EXPECT_NE(message.find(part), std::string::npos) << message;
  setenv("BIOPROP_CPU_GEMM", "openblas", 1);
  EXPECT_EQ(cpu_gemm_from_environment(), CpuGemm::openblas);
  unsetenv("BIOPROP_CPU_GEMM");
  EXPECT_EQ(cpu_gemm_from_environment(), CpuGemm::onednn);
}

TEST_F(CpuBackendTest, GemmShapeMismatchIsAnError) {
  Tensor a({2, 3}), b({4, 5}), c({2, 5});
  EXPECT_THROW(backend->gemm(false, false, 1, a, b, 0, c), Error);
}

// Direct convolution: y[n][o][i][j] = sum_{c,u,v} w[o][c][u][v] x[n][c][i*s-p+u][j*s-p+v].
TEST_F(CpuBackendTest, Conv2dForwardMatchesDirectFormula) {
  WindowGeometry g{3, 2, 9, 8, 4, 0, 0, 3, 3, 2, 1};
  g.out_h = (9 + 2 - 3) / 2 + 1, g.out_w = (8 + 2 - 3) / 2 + 1;
  const Tensor x = random_tensor(*backend, {3, 2, 9, 8}, 1), w = random_tensor(*backend, {4, 2, 3, 3}, 2);
  Tensor y({3, 4, g.out_h, g.out_w});
  backend->conv2d_forward(x, w, y, g);
  for (int n = 0; n < 3; ++n)
    for (int o = 0; o < 4; ++o)
      for (int i = 0; i < g.out_h; ++i)
        for (int j = 0; j < g.out_w; ++j) {
          double sum = 0;
          for (int c = 0; c < 2; ++c)
            for (int u = 0; u < 3; ++u)
              for (int v = 0; v < 3; ++v) {
                const int r = i * 2 - 1 + u, q = j * 2 - 1 + v;
                if (r >= 0 && r < 9 && q >= 0 && q < 8)
                  sum += w.at(((o * 2 + c) * 3 + u) * 3 + v) * x.at(((n * 2 + c) * 9 + r) * 8 + q);
              }
          EXPECT_NEAR(y.at(((n * 4 + o) * g.out_h + i) * g.out_w + j), sum, 1e-4);
        }
}

// Direct locally connected: y[n][o][i][j] = sum_{c,u,v} W[i][j][o][c][u][v] x[n][c][i*s-p+u][j*s-p+v].
TEST_F(CpuBackendTest, LocallyConnectedForwardMatchesDirectFormula) {
  WindowGeometry g{2, 3, 7, 6, 4, 0, 0, 3, 3, 2, 1};
  g.out_h = (7 + 2 - 3) / 2 + 1, g.out_w = (6 + 2 - 3) / 2 + 1;
  const Tensor x = random_tensor(*backend, {2, 3, 7, 6}, 1);
  const Tensor w = random_tensor(*backend, {g.out_h, g.out_w, 4, 3, 3, 3}, 2);
  Tensor y({2, 4, g.out_h, g.out_w});
  backend->locally_connected_forward(x, w, y, g);
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 4; ++o)
      for (int i = 0; i < g.out_h; ++i)
        for (int j = 0; j < g.out_w; ++j) {
          double sum = 0;
          for (int c = 0; c < 3; ++c)
            for (int u = 0; u < 3; ++u)
              for (int v = 0; v < 3; ++v) {
                const int r = i * 2 - 1 + u, q = j * 2 - 1 + v;
                if (r >= 0 && r < 7 && q >= 0 && q < 6)
                  sum += w.at(((((i * g.out_w + j) * 4 + o) * 3 + c) * 3 + u) * 3 + v) *
                         x.at(((n * 3 + c) * 7 + r) * 6 + q);
              }
          EXPECT_NEAR(y.at(((n * 4 + o) * g.out_h + i) * g.out_w + j), sum, 1e-4);
        }
}

TEST_F(CpuBackendTest, PoolingOnAKnownImage) {
  // 1 image, 1 channel, 3x4: max and mean of each 2x2 block (the last row is dropped: floor).
  const Tensor x = Tensor::from({1, 1, 3, 4}, std::vector<float>{1, 5, 2, 0, 3, 4, 8, 6, 9, 9, 9, 9});
  WindowGeometry g{1, 1, 3, 4, 1, 1, 2, 2, 2, 2, 0};
  Tensor y({1, 1, 1, 2});
  backend->max_pool_forward(x, y, g);
  EXPECT_EQ(y.at(0), 5);
  EXPECT_EQ(y.at(1), 8);
  backend->avg_pool_forward(x, y, g);
  EXPECT_FLOAT_EQ(y.at(0), 13.0f / 4);
  EXPECT_FLOAT_EQ(y.at(1), 16.0f / 4);
}

// Max pooling against the direct formula on 2x2 windows of stride 2 (the loop of their own) and on 3x3
// windows of stride 2 (overlapping: the generic loop), on odd sizes (the last row and column are
// dropped) and with ties (the first largest in the window takes the gradient, as the CUDA kernel's).
TEST_F(CpuBackendTest, MaxPoolingMatchesDirectFormula) {
  for (int kernel : {2, 3}) {
    const int batch = 2, channels = 3, h = 7, w = 9, out_h = (h - kernel) / 2 + 1, out_w = (w - kernel) / 2 + 1;
    WindowGeometry g{batch, channels, h, w, channels, out_h, out_w, kernel, kernel, 2, 0};
    Tensor x = random_tensor(*backend, {batch, channels, h, w}, 1);
    for (size_t i = 0; i < x.numel(); ++i) x.data()[i] = std::round(2 * x.at(i));  // few values: many ties
    const Tensor dy = random_tensor(*backend, {batch, channels, out_h, out_w}, 2);
    Tensor y({batch, channels, out_h, out_w}), dx = random_tensor(*backend, x.shape(), 3);  // stale dx
    backend->max_pool_forward(x, y, g);
    backend->max_pool_backward(x, dy, dx, g);
    std::vector<float> expected_dx(x.numel(), 0.0f);
    for (int plane = 0; plane < batch * channels; ++plane)
      for (int i = 0; i < out_h; ++i)
        for (int j = 0; j < out_w; ++j) {
          size_t best = 0;
          bool first = true;
          for (int u = 0; u < kernel; ++u)
            for (int v = 0; v < kernel; ++v) {
              const size_t at = (static_cast<size_t>(plane) * h + 2 * i + u) * w + 2 * j + v;
              if (first || x.at(at) > x.at(best)) best = at, first = false;
            }
          const size_t out = (static_cast<size_t>(plane) * out_h + i) * out_w + j;
          EXPECT_EQ(y.at(out), x.at(best)) << kernel;
          expected_dx[best] += dy.at(out);
        }
    for (size_t i = 0; i < x.numel(); ++i) EXPECT_FLOAT_EQ(dx.at(i), expected_dx[i]) << kernel << " at " << i;
  }
}

TEST_F(CpuBackendTest, BiasBroadcastPerFeatureAndPerChannel) {
  Tensor y({2, 3, 2, 2});
  const Tensor per_channel = Tensor::from({3}, std::vector<float>{1, 2, 3});
  backend->add_bias(y, per_channel);
  EXPECT_EQ(y.at(0), 1);
  EXPECT_EQ(y.at(4), 2);
  EXPECT_EQ(y.at(12 + 11), 3);
  Tensor grad({3});
  backend->bias_grad(y, 0.0f, grad);
  EXPECT_FLOAT_EQ(grad.at(1), 2 * 4 * 2);  // 2 images x 4 positions x value 2
}

TEST_F(CpuBackendTest, SoftmaxCrossEntropyValueAndGradient) {
  Tensor logits = random_tensor(*backend, {4, 5}, 3, 2.0f);
  const Tensor labels = Tensor::from({4}, std::vector<float>{0, 4, 2, 2});
  Tensor grad({4, 5}), scratch({4, 5});
  const float loss = backend->softmax_cross_entropy(logits, labels, grad);
  double expected = 0;
  for (int n = 0; n < 4; ++n) {
    double sum = 0;
    for (int k = 0; k < 5; ++k) sum += std::exp(logits.at(n * 5 + k));
    expected += std::log(sum) - logits.at(n * 5 + static_cast<int>(labels.at(n)));
  }
  EXPECT_NEAR(loss, expected / 4, 1e-5);
  testing::expect_matches_finite_differences("cross-entropy", logits, grad, [&] {
    return static_cast<double>(backend->softmax_cross_entropy(logits, labels, scratch));
  });
}

TEST_F(CpuBackendTest, MeanSquaredErrorValueAndGradient) {
  Tensor outputs = random_tensor(*backend, {3, 4}, 4);
  const Tensor labels = Tensor::from({3}, std::vector<float>{1, 0, 3});
  Tensor grad({3, 4}), scratch({3, 4});
  const float loss = backend->mean_squared_error(outputs, labels, grad);
  double expected = 0;
  for (int n = 0; n < 3; ++n)
    for (int k = 0; k < 4; ++k) {
      const double e = outputs.at(n * 4 + k) - (static_cast<float>(k) == labels.at(n) ? 1.0 : 0.0);
      expected += 0.5 * e * e;
    }
  EXPECT_NEAR(loss, expected / 3, 1e-5);
  testing::expect_matches_finite_differences(
      "mse", outputs, grad, [&] { return static_cast<double>(backend->mean_squared_error(outputs, labels, scratch)); });
}

TEST_F(CpuBackendTest, LabelOutsideTheClassesIsAnError) {
  Tensor outputs({1, 3}), grad({1, 3});
  EXPECT_THROW(backend->softmax_cross_entropy(outputs, Tensor::from({1}, std::vector<float>{3}), grad), Error);
}

TEST_F(CpuBackendTest, CountCorrect) {
  const Tensor outputs = Tensor::from({3, 3}, std::vector<float>{0, 1, 0, 5, 2, 1, 0, 0, 9});
  EXPECT_EQ(backend->count_correct(outputs, Tensor::from({3}, std::vector<float>{1, 1, 2})), 2);
}

// With activity noise the layer's output h is f(a) + noise; the derivative must still be f'(a) (issue 12,
// item 3): 1 - h^2 with a noisy h = 1.5 would be negative and flip the gradient's sign.
TEST_F(CpuBackendTest, ActivationDerivativesComeFromThePreActivation) {
  const Tensor a = Tensor::from({3}, std::vector<float>{0.5f, -1.0f, 2.0f});
  const Tensor noisy_h = Tensor::from({3}, std::vector<float>{1.5f, -2.0f, 0.1f});  // not f(a)
  const Tensor dh = Tensor::from({3}, std::vector<float>{1, 1, 1});
  Tensor da({3});
  backend->activation_backward(Activation::tanh, a, noisy_h, dh, da);
  for (size_t i = 0; i < 3; ++i) {
    const float t = std::tanh(a.at(i));
    EXPECT_FLOAT_EQ(da.at(i), 1.0f - t * t) << i;
  }
  backend->activation_backward(Activation::sigmoid, a, noisy_h, dh, da);
  for (size_t i = 0; i < 3; ++i) {
    const float s = 1.0f / (1.0f + std::exp(-a.at(i)));
    EXPECT_NEAR(da.at(i), s * (1.0f - s), 1e-7f) << i;
  }
}

TEST_F(CpuBackendTest, SgdWithMomentumAndWeightDecay) {
  Tensor w = Tensor::from({2}, std::vector<float>{1, -2}), v({2});
  const Tensor g = Tensor::from({2}, std::vector<float>{0.5f, 0.25f});
  const SgdSettings s{0.1f, 0.9f, 0.01f};
  backend->sgd_step(w, g, v, s);  // v = g + wd w; w -= lr v
  EXPECT_FLOAT_EQ(v.at(0), 0.5f + 0.01f);
  EXPECT_FLOAT_EQ(w.at(0), 1 - 0.1f * 0.51f);
  backend->sgd_step(w, g, v, s);  // v = 0.9 v + g + wd w
  EXPECT_NEAR(v.at(0), 0.9 * 0.51 + 0.5 + 0.01 * (1 - 0.051), 1e-6);
}

TEST_F(CpuBackendTest, AdamFirstStepMovesByTheLearningRate) {
  // After one step m_hat = g and v_hat = g^2, so every weight moves by lr * sign(g) (Kingma & Ba).
  Tensor w = Tensor::from({3}, std::vector<float>{1, 2, 3}), m({3}), v({3});
  const Tensor g = Tensor::from({3}, std::vector<float>{0.3f, -4, 1e-3f});
  backend->adam_step(w, g, m, v, AdamSettings{0.01f}, 1);
  EXPECT_NEAR(w.at(0), 1 - 0.01, 1e-5);
  EXPECT_NEAR(w.at(1), 2 + 0.01, 1e-5);
  EXPECT_NEAR(w.at(2), 3 - 0.01, 1e-4);
}

TEST_F(CpuBackendTest, RandomNormalMoments) {
  Tensor x({100000});
  backend->random_normal(x, 1.0f, 2.0f, 42, 0);
  double sum = 0, squares = 0;
  for (float v : x.values()) sum += v, squares += (v - 1.0) * (v - 1.0);
  EXPECT_NEAR(sum / 1e5, 1.0, 0.02);
  EXPECT_NEAR(std::sqrt(squares / 1e5), 2.0, 0.02);
}

// Sixteen blocks computed together are rng.hpp's blocks, bit for bit (also where the block number
// crosses 2^32, which carries into the counter's second word).
TEST(PhiloxChunk, EqualsOneBlockAtATime) {
  for (uint64_t seed : {uint64_t{0}, uint64_t{42}, ~uint64_t{0} - 5})
    for (uint64_t first : {uint64_t{0}, uint64_t{7}, (uint64_t{1} << 32) - 9, ~uint64_t{0} - 20}) {
      PhiloxChunk chunk;
      compute_philox_chunk(seed, first, chunk);
      for (size_t k = 0; k < philox_chunk_blocks; ++k)
        ASSERT_EQ(chunk.block(k), philox_block(seed, first + k)) << seed << " " << first << " " << k;
    }
}

// The fills draw element i of stream (seed, offset) from rng.hpp's formulas, over chunk boundaries and
// a last partial chunk and block (the kernels draw the same numbers one element per thread).
TEST_F(CpuBackendTest, RandomFillsDrawTheStreamsElements) {
  const size_t total = 3 * philox_chunk_elements + 6;
  const uint64_t seed = 11, offset = 5;
  Tensor mask({static_cast<int>(total)}), normal({static_cast<int>(total)}), uniform({static_cast<int>(total)});
  backend->dropout_mask(mask, 0.4f, seed, offset);
  backend->random_normal(normal, 0.5f, 2.0f, seed, offset);
  backend->random_uniform(uniform, -1.0f, 3.0f, seed, offset);
  for (size_t i = 0; i < total; ++i) {
    EXPECT_EQ(mask.at(i), philox_uniform(seed, offset, i) >= 0.4f ? 1.0f / 0.6f : 0.0f) << i;
    EXPECT_EQ(normal.at(i), scale_normal(philox_normal(seed, offset, i), 0.5f, 2.0f)) << i;
    EXPECT_EQ(uniform.at(i), scale_uniform(philox_uniform(seed, offset, i), -1.0f, 3.0f)) << i;
  }
}

// A rank's per-trial draws start at its place in the global batch: from element `first`, the fills draw the
// global stream's elements first, first + 1, ... (on and off a block boundary), so that the ranks together
// draw what one process draws for the whole batch.
TEST_F(CpuBackendTest, PerTrialDrawsFromAPlaceInTheGlobalBatchAreThatPartOfTheStream) {
  const size_t global = 2 * philox_chunk_elements + 10;
  const uint64_t seed = 3, offset = 9;
  Tensor whole_mask({static_cast<int>(global)}), whole_normal({static_cast<int>(global)});
  backend->dropout_mask(whole_mask, 0.3f, seed, offset);
  backend->random_normal(whole_normal, 0.0f, 1.5f, seed, offset);
  for (const size_t first : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{70}, global - 2}) {
    const int count = static_cast<int>(global - first);
    Tensor mask({count}), normal({count});
    backend->dropout_mask(mask, 0.3f, seed, offset, first);
    backend->random_normal(normal, 0.0f, 1.5f, seed, offset, first);
    for (size_t e = 0; e < static_cast<size_t>(count); ++e) {
      ASSERT_EQ(mask.at(e), whole_mask.at(first + e)) << first << " " << e;
      ASSERT_EQ(normal.at(e), whole_normal.at(first + e)) << first << " " << e;
    }
  }
}

// The attention gate's two draws of trial b are those of trial first_trial + b of the global batch.
TEST_F(CpuBackendTest, AttentionGateDrawsByTheTrialsPlaceInTheGlobalBatch) {
  const int trials = 40, actions = 5;
  Tensor q({trials, actions}), labels({trials});
  backend->random_uniform(q, 0.0f, 1.0f, 4, 0);
  for (int b = 0; b < trials; ++b) labels.at(static_cast<size_t>(b)) = static_cast<float>(b % actions);
  const ExplorationPolicy explore_often{0.6f, 0.5f};
  GateOutputs whole, part;
  Tensor whole_tags(q.shape());
  backend->attention_gate(q, labels, explore_often, 8, 2, whole, whole_tags);
  const int first = 13, count = trials - first;
  Tensor part_q({count, actions}), part_labels({count}), part_tags({count, actions});
  std::copy(q.data() + first * actions, q.data() + trials * actions, part_q.data());
  std::copy(labels.data() + first, labels.data() + trials, part_labels.data());
  backend->attention_gate(part_q, part_labels, explore_often, 8, 2, part, part_tags, first);
  // Exploring 60% of the time, many trials would choose otherwise with another trial's draws.
  for (int b = 0; b < count; ++b)
    EXPECT_EQ(part.actions.at(static_cast<size_t>(b)), whole.actions.at(static_cast<size_t>(first + b))) << b;
}

}  // namespace
}  // namespace bioprop
