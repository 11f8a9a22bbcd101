// Finite-difference gradient checks for every layer: backward_data and weight_grad, odd sizes,
// stride and padding cases.
#include <cmath>

#include "bioprop/layers.hpp"
#include "gradient_check.hpp"

namespace bioprop {
namespace {

using testing::check_layer;

class LayerGradients : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend = make_cpu_backend();
};

TEST_F(LayerGradients, DenseOnVectors) { check_layer(*backend, *make_dense(7), {3, 11}); }
TEST_F(LayerGradients, DenseFlattensImages) { check_layer(*backend, *make_dense(5), {2, 3, 4, 5}); }
TEST_F(LayerGradients, DenseWithoutBias) { check_layer(*backend, *make_dense(4, false), {5, 9}); }
TEST_F(LayerGradients, DenseBatchOne) { check_layer(*backend, *make_dense(3), {1, 6}); }

TEST_F(LayerGradients, Conv2dStride1NoPadding) { check_layer(*backend, *make_conv2d(4, 3, 1, 0), {2, 3, 7, 6}); }
TEST_F(LayerGradients, Conv2dStride2Padding1) { check_layer(*backend, *make_conv2d(5, 3, 2, 1), {3, 2, 9, 8}); }
TEST_F(LayerGradients, Conv2dKernel5Stride3Padding2) { check_layer(*backend, *make_conv2d(3, 5, 3, 2), {2, 2, 11, 7}); }
TEST_F(LayerGradients, Conv2dPointwiseNoBias) { check_layer(*backend, *make_conv2d(6, 1, 1, 0, false), {2, 4, 5, 5}); }

TEST_F(LayerGradients, LocallyConnectedStride1) {
  check_layer(*backend, *make_locally_connected2d(4, 3, 1, 0), {2, 3, 7, 6});
}
TEST_F(LayerGradients, LocallyConnectedStride2Padding1) {
  check_layer(*backend, *make_locally_connected2d(3, 3, 2, 1), {3, 2, 9, 8});
}
TEST_F(LayerGradients, LocallyConnectedKernel4Stride3NoBiasBatchOne) {
  check_layer(*backend, *make_locally_connected2d(5, 4, 3, 2, false), {1, 2, 10, 7});
}

TEST_F(LayerGradients, MaxPool2x2OddInput) { check_layer(*backend, *make_max_pool2d(2, 2), {2, 3, 7, 5}); }
TEST_F(LayerGradients, MaxPool3x3Overlapping) { check_layer(*backend, *make_max_pool2d(3, 2), {2, 2, 9, 8}); }
TEST_F(LayerGradients, AvgPool2x2OddInput) { check_layer(*backend, *make_avg_pool2d(2, 2), {2, 3, 7, 5}); }
TEST_F(LayerGradients, AvgPool3x3Overlapping) { check_layer(*backend, *make_avg_pool2d(3, 1), {1, 2, 6, 7}); }

TEST_F(LayerGradients, Flatten) { check_layer(*backend, *make_flatten(), {2, 3, 4, 5}); }
TEST_F(LayerGradients, Relu) { check_layer(*backend, *make_activation(Activation::relu), {3, 40}, true); }
TEST_F(LayerGradients, Sigmoid) { check_layer(*backend, *make_activation(Activation::sigmoid), {3, 40}); }
TEST_F(LayerGradients, Tanh) { check_layer(*backend, *make_activation(Activation::tanh), {2, 2, 5, 4}); }
TEST_F(LayerGradients, Softplus) { check_layer(*backend, *make_activation(Activation::softplus), {3, 40}); }

// Batch norm while training: the gradient through the batch statistics (every output depends on every
// input of its channel), per channel of images and per feature of vectors, batch 2 included.
TEST_F(LayerGradients, BatchNormTrainingOnImages) {
  auto layer = make_batch_norm();
  layer->set_training(true);
  check_layer(*backend, *layer, {3, 4, 5, 6});
}
TEST_F(LayerGradients, BatchNormTrainingOnFeaturesBatchTwo) {
  auto layer = make_batch_norm(0.9f, 1e-2f);
  layer->set_training(true);
  check_layer(*backend, *layer, {2, 9});
}
TEST_F(LayerGradients, BatchNormInEvaluationUsesFixedStatistics) {
  check_layer(*backend, *make_batch_norm(), {3, 2, 4, 5});
}

TEST_F(LayerGradients, BatchNormNormalisesEachChannelAndTracksRunningStatistics) {
  auto layer = make_batch_norm(0.75f, 1e-5f);
  const Shape shape{4, 3, 5, 2};
  layer->build(shape, 0, {}, *backend);
  layer->set_training(true);
  Tensor x = testing::random_tensor(*backend, shape, 3, 2.0f), y(shape);
  for (size_t i = 0; i < x.numel(); ++i) x.at(i) += static_cast<float>(i / 10 % 3) * 5.0f;  // channel means 0, 5, 10
  layer->forward(*backend, x, y);
  Tensor mean({3}), variance({3}), y_mean({3}), y_variance({3});
  backend->batch_norm_statistics(x, mean, variance);
  backend->batch_norm_statistics(y, y_mean, y_variance);
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_NEAR(mean.at(c), 5.0f * static_cast<float>(c), 1.0f) << "the test input has its channel means";
    EXPECT_NEAR(y_mean.at(c), 0.0f, 1e-5f) << "channel " << c;
    EXPECT_NEAR(y_variance.at(c), 1.0f, 1e-3f) << "channel " << c;
  }
  // One training step moves the running statistics a quarter of the way from (0, 1) to the batch's.
  const auto state = layer->state();
  ASSERT_EQ(state.size(), 2u);
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_NEAR(state[0]->value.at(c), 0.25f * mean.at(c), 1e-5f);
    EXPECT_NEAR(state[1]->value.at(c), 0.75f + 0.25f * variance.at(c), 1e-4f);
  }
  // Evaluation normalises with the running statistics, not the batch's.
  layer->set_training(false);
  layer->forward(*backend, x, y);
  for (size_t i = 0; i < x.numel(); ++i) {
    const size_t c = i / 10 % 3;
    const float expected = (x.at(i) - state[0]->value.at(c)) / std::sqrt(state[1]->value.at(c) + 1e-5f);
    ASSERT_NEAR(y.at(i), expected, 1e-4f * (1.0f + std::abs(expected))) << "at " << i;
  }
}

TEST_F(LayerGradients, DropoutInEvaluationIsTheIdentity) { check_layer(*backend, *make_dropout(0.3f), {3, 40}); }

TEST_F(LayerGradients, DropoutWhileTrainingDropsAtTheRateAndBackpropagatesThroughItsMask) {
  auto dropout = make_dropout(0.3f);
  const Shape shape{50, 400};
  dropout->build(shape, 0, {InitKind::he, 0, 9}, *backend);
  dropout->set_training(true);
  Tensor x(shape), y(shape), dy(shape), dx(shape);
  backend->fill(x, 2.0f);
  backend->fill(dy, 1.0f);
  dropout->forward(*backend, x, y);
  dropout->backward_data(*backend, x, y, dy, dx);
  size_t dropped = 0;
  for (size_t i = 0; i < y.numel(); ++i) {
    ASSERT_TRUE(y.at(i) == 0.0f || std::abs(y.at(i) - 2.0f / 0.7f) < 1e-5f) << y.at(i);
    ASSERT_FLOAT_EQ(dx.at(i), y.at(i) / 2.0f) << "backward must use the forward pass's mask";
    dropped += y.at(i) == 0.0f;
  }
  // 20000 draws: 5 standard errors of the dropped fraction is about 0.016.
  EXPECT_NEAR(static_cast<double>(dropped) / static_cast<double>(y.numel()), 0.3, 0.016);
  Tensor again(shape);
  dropout->forward(*backend, x, again);
  size_t same = 0;
  for (size_t i = 0; i < y.numel(); ++i) same += (again.at(i) == 0.0f) == (y.at(i) == 0.0f);
  EXPECT_LT(same, y.numel()) << "each forward pass draws a new mask";
  EXPECT_THROW(make_dropout(1.0f), Error);
}

TEST_F(LayerGradients, FeedbackPathwayEqualToWeightsGivesTheSameDelta) {
  for (auto make : {+[] { return make_dense(6); }, +[] { return make_conv2d(3, 3, 2, 1); },
                    +[] { return make_locally_connected2d(3, 3, 1, 0); }}) {
    auto layer = make();
    auto* weighted = dynamic_cast<WeightedLayer*>(layer.get());
    ASSERT_NE(weighted, nullptr);
    const Shape input{2, 2, 6, 5};
    const Shape output = layer->build(input, 0, {InitKind::he, 0, 3}, *backend);
    const Tensor x = testing::random_tensor(*backend, input, 5), dy = testing::random_tensor(*backend, output, 6);
    Tensor y(output), through_w(input), through_b(input);
    layer->forward(*backend, x, y);
    layer->backward_data(*backend, x, y, dy, through_w, Pathway::forward_weights);
    EXPECT_THROW(layer->backward_data(*backend, x, y, dy, through_b, Pathway::feedback_weights), Error);
    weighted->set_feedback_weights(weighted->weights().value.clone());
    layer->backward_data(*backend, x, y, dy, through_b, Pathway::feedback_weights);
    for (size_t i = 0; i < through_w.numel(); ++i) ASSERT_EQ(through_w.at(i), through_b.at(i)) << layer->kind();
    // A different B must change the delta (the pathway is really used).
    backend->random_normal(weighted->feedback_weights(), 0, 1, 99, 0);
    layer->backward_data(*backend, x, y, dy, through_b, Pathway::feedback_weights);
    double difference = 0;
    for (size_t i = 0; i < through_w.numel(); ++i) difference += std::abs(through_w.at(i) - through_b.at(i));
    EXPECT_GT(difference, 1e-3) << layer->kind();
  }
}

TEST_F(LayerGradients, WindowThatDoesNotFitIsAClearError) {
  auto layer = make_conv2d(4, 5);
  try {
    layer->build({1, 1, 3, 3}, 2, {}, *backend);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 2 (conv2d): a 5x5 window (padding 0) does not fit the 3x3 input"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace bioprop
