// Every hand-written kernel, run under the CUDA emulation, against the CPU reference backend on small
// odd shapes: batch 1, strides, padding, sizes that are not multiples of the 16 x 16 tiles.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <tuple>

#include "bioprop/backend.hpp"
#include "kernels/attention_gate.cuh"
#include "kernels/elementwise.cuh"
#include "kernels/locally_connected.cuh"
#include "kernels/three_factor.cuh"

namespace bioprop {
namespace {

Tensor random_tensor(Backend& backend, const Shape& shape, uint64_t seed) {
  Tensor t(shape);
  backend.random_normal(t, 0.0f, 1.0f, seed, 0);
  return t;
}

void expect_close(const Tensor& actual, const Tensor& expected, float tolerance, const std::string& what) {
  ASSERT_EQ(actual.numel(), expected.numel()) << what;
  for (size_t i = 0; i < actual.numel(); ++i)
    ASSERT_NEAR(actual.at(i), expected.at(i), tolerance * (1.0f + std::abs(expected.at(i)))) << what << " at " << i;
}

WindowGeometry geometry(int batch, int channels, int h, int w, int out_channels, int kernel, int stride, int padding) {
  WindowGeometry g{batch, channels, h, w, out_channels, 0, 0, kernel, kernel, stride, padding};
  g.out_h = (h + 2 * padding - kernel) / stride + 1;
  g.out_w = (w + 2 * padding - kernel) / stride + 1;
  return g;
}

class EmulatedKernels : public ::testing::TestWithParam<WindowGeometry> {
 protected:
  std::unique_ptr<Backend> cpu = make_cpu_backend();
};

TEST_P(EmulatedKernels, LocallyConnectedMatchesTheCpuReference) {
  const WindowGeometry g = GetParam();
  const Shape input{g.batch, g.in_channels, g.in_h, g.in_w}, output{g.batch, g.out_channels, g.out_h, g.out_w};
  const Shape weights{g.out_h, g.out_w, g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
  const Tensor x = random_tensor(*cpu, input, 1), w = random_tensor(*cpu, weights, 2),
               dy = random_tensor(*cpu, output, 3);

  // A cap of 2 position blocks makes every block loop over several positions, as layers with more
  // than 65535 positions do on a GPU.
  const unsigned caps[] = {kernels::lc_max_position_blocks, 2};
  Tensor y_cpu(output);
  cpu->locally_connected_forward(x, w, y_cpu, g);
  for (unsigned cap : caps) {
    Tensor y_emulated(output);
    kernels::locally_connected_forward(x.data(), w.data(), y_emulated.data(), g, nullptr, cap);
    expect_close(y_emulated, y_cpu, 1e-4f, "forward, position blocks capped at " + std::to_string(cap));
  }

  Tensor dx_cpu(input), dx_emulated(input);
  cpu->locally_connected_backward_data(dy, w, dx_cpu, g);
  kernels::locally_connected_backward_data(dy.data(), w.data(), dx_emulated.data(), g, nullptr);
  expect_close(dx_emulated, dx_cpu, 1e-4f, "backward data");

  for (unsigned cap : caps) {
    Tensor dw_cpu = random_tensor(*cpu, weights, 4), dw_emulated = dw_cpu.clone();
    for (float beta : {0.0f, 0.5f}) {
      cpu->locally_connected_backward_weight(dy, x, beta, dw_cpu, g);
      kernels::locally_connected_backward_weight(dy.data(), x.data(), nullptr, 1.0f, beta, dw_emulated.data(), g,
                                                 nullptr, cap);
      expect_close(dw_emulated, dw_cpu, 1e-4f,
                   "backward weight, beta " + std::to_string(beta) + ", cap " + std::to_string(cap));
    }
  }
}

// The fused three-factor update equals the reference's two steps: scale each trial's tags by its
// modulator (scale_samples), then the ordinary weight gradient.
TEST_P(EmulatedKernels, ThreeFactorLocallyConnectedUpdateMatchesScaledTagsThenWeightGradient) {
  const WindowGeometry g = GetParam();
  const Shape input{g.batch, g.in_channels, g.in_h, g.in_w}, output{g.batch, g.out_channels, g.out_h, g.out_w};
  const Shape weights{g.out_h, g.out_w, g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
  const Tensor x = random_tensor(*cpu, input, 1), tags = random_tensor(*cpu, output, 3),
               rpe = random_tensor(*cpu, {g.batch}, 7);
  Tensor scaled(output), dw_cpu(weights), dw_emulated(weights);
  cpu->scale_samples(tags, rpe, -0.5f, scaled);
  cpu->locally_connected_backward_weight(scaled, x, 0.0f, dw_cpu, g);
  kernels::locally_connected_backward_weight(tags.data(), x.data(), rpe.data(), -0.5f, 0.0f, dw_emulated.data(), g,
                                             nullptr);
  expect_close(dw_emulated, dw_cpu, 1e-4f, "three-factor LC");
}

INSTANTIATE_TEST_SUITE_P(Shapes, EmulatedKernels,
                         ::testing::Values(geometry(1, 1, 5, 5, 3, 3, 1, 0),    // batch 1, tiny
                                           geometry(3, 2, 7, 6, 5, 3, 2, 1),    // stride 2, padding 1, odd sizes
                                           geometry(17, 3, 6, 5, 18, 3, 1, 1),  // batch and channels past one tile
                                           geometry(2, 2, 9, 8, 4, 4, 3, 2)),   // kernel 4, stride 3, padding 2
                         [](const ::testing::TestParamInfo<WindowGeometry>& param_info) {
                           const WindowGeometry& g = param_info.param;
                           return fmt::format("n{}c{}_{}x{}_oc{}k{}s{}p{}", g.batch, g.in_channels, g.in_h, g.in_w,
                                              g.out_channels, g.kernel_h, g.stride, g.padding);
                         });

TEST(EmulatedThreeFactor, DenseUpdateMatchesScaledTagsThenGemm) {
  auto cpu = make_cpu_backend();
  for (const auto& [batch, outputs, inputs] : {std::tuple{1, 3, 5}, std::tuple{19, 10, 33}, std::tuple{40, 17, 16}}) {
    const Tensor tags = random_tensor(*cpu, {batch, outputs}, 1), pre = random_tensor(*cpu, {batch, inputs}, 2);
    const Tensor rpe = random_tensor(*cpu, {batch}, 3);
    Tensor scaled({batch, outputs}), dw_cpu = random_tensor(*cpu, {outputs, inputs}, 4), dw_emulated = dw_cpu.clone();
    cpu->scale_samples(tags, rpe, 0.25f, scaled);
    cpu->gemm(true, false, 1.0f, scaled, pre, 0.5f, dw_cpu);
    kernels::dense_three_factor_update(tags.data(), pre.data(), rpe.data(), 0.25f, 0.5f, dw_emulated.data(), batch,
                                       outputs, inputs, nullptr);
    expect_close(dw_emulated, dw_cpu, 1e-4f, "three-factor dense");
  }
}

TEST(EmulatedElementwise, ActivationsMatchTheCpuReference) {
  auto cpu = make_cpu_backend();
  const Tensor a = random_tensor(*cpu, {3, 101}, 5), dh = random_tensor(*cpu, {3, 101}, 6);
  for (Activation f : {Activation::relu, Activation::sigmoid, Activation::tanh, Activation::softplus}) {
    Tensor h_cpu(a.shape()), h_emulated(a.shape()), da_cpu(a.shape()), da_emulated(a.shape());
    cpu->activation_forward(f, a, h_cpu);
    kernels::activation_forward(f, a.data(), h_emulated.data(), a.numel(), nullptr);
    expect_close(h_emulated, h_cpu, 1e-6f, "activation forward");
    cpu->activation_backward(f, a, h_cpu, dh, da_cpu);
    kernels::activation_backward(f, a.data(), h_cpu.data(), dh.data(), da_emulated.data(), a.numel(), nullptr);
    expect_close(da_emulated, da_cpu, 1e-6f, "activation backward");
  }
}

TEST(EmulatedElementwise, PhiloxFillsAndSampleScalingMatchTheCpuReference) {
  auto cpu = make_cpu_backend();
  Tensor cpu_normal({1001}), emulated_normal({1001}), cpu_uniform({999}), emulated_uniform({999});
  cpu->random_normal(cpu_normal, 0.5f, 2.0f, 12, 345);
  kernels::random_normal(emulated_normal.data(), emulated_normal.numel(), 0.5f, 2.0f, 12, 345, 0, nullptr);
  expect_close(emulated_normal, cpu_normal, 1e-6f, "normal");
  for (const uint64_t first : {1u, 6u, 4099u}) {  // per-trial draws from a rank's place, off a block boundary
    cpu->random_normal(cpu_normal, 0.5f, 2.0f, 12, 345, first);
    kernels::random_normal(emulated_normal.data(), emulated_normal.numel(), 0.5f, 2.0f, 12, 345, first, nullptr);
    expect_close(emulated_normal, cpu_normal, 1e-6f, "normal from element " + std::to_string(first));
  }
  cpu->random_uniform(cpu_uniform, -1.0f, 3.0f, 7, 8);
  kernels::random_uniform(emulated_uniform.data(), emulated_uniform.numel(), -1.0f, 3.0f, 7, 8, nullptr);
  expect_close(emulated_uniform, cpu_uniform, 0.0f, "uniform");

  const Tensor x = random_tensor(*cpu, {4, 3, 5}, 1), scale = random_tensor(*cpu, {4}, 2);
  Tensor out_cpu(x.shape()), out_emulated(x.shape());
  cpu->scale_samples(x, scale, -0.25f, out_cpu);
  kernels::scale_samples(x.data(), scale.data(), -0.25f, out_emulated.data(), 4, 15, nullptr);
  expect_close(out_emulated, out_cpu, 0.0f, "scale_samples");
}

TEST(EmulatedAttentionGate, ChoosesTheSameActionsAsTheCpuReference) {
  auto cpu = make_cpu_backend();
  const int batch = 300, actions = 10;
  const Tensor q = random_tensor(*cpu, {batch, actions}, 9);
  Tensor labels({batch});
  for (int b = 0; b < batch; ++b) labels.at(static_cast<size_t>(b)) = static_cast<float>(b % actions);
  const ExplorationPolicy policy{0.3f, 0.7f};
  GateOutputs expected;
  Tensor expected_tags({batch, actions});
  cpu->attention_gate(q, labels, policy, 5, 1u << 20, expected, expected_tags, 37);
  Tensor chosen({batch}), rewards({batch}), rpe({batch}), greedy_correct({batch}), tags({batch, actions});
  kernels::attention_gate(q.data(), labels.data(), batch, actions, policy, 5, 1u << 20, 37, chosen.data(),
                          rewards.data(), rpe.data(), greedy_correct.data(), tags.data(), nullptr);
  expect_close(chosen, expected.actions, 0.0f, "actions");
  expect_close(rewards, expected.rewards, 0.0f, "rewards");
  expect_close(rpe, expected.rpe, 0.0f, "rpe");
  expect_close(greedy_correct, expected.greedy_correct, 0.0f, "greedy correct");
  expect_close(tags, expected_tags, 0.0f, "tags");
  // The gate's accuracy is count_correct's: the greedy action is the largest output.
  const ScoredLoss score = cpu->score_gate(expected);
  EXPECT_EQ(score.correct, cpu->count_correct(q, labels));
  EXPECT_GT(score.correct, 0);
}

}  // namespace
}  // namespace bioprop
