// The feedback-alignment family and the perturbation rules: each rule's defining math, and each rule
// learning real Fashion-MNIST images above chance.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "bioprop/config.hpp"
#include "bioprop/error.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rule.hpp"
#include "bioprop/trainer.hpp"
#include "gradient_check.hpp"
#include "rule_test_fixture.hpp"
#include "train_subset.hpp"

namespace bioprop {
namespace {

const char* small_conv =
    "[[layer]]\ntype=\"conv2d\"\nchannels=3\nkernel=3\nstride=2\nactivation=\"relu\"\n"
    "[[layer]]\ntype=\"locally_connected2d\"\nchannels=2\nkernel=2\nactivation=\"tanh\"\n"
    "[[layer]]\ntype=\"dense\"\nunits=6\nactivation=\"relu\"\n";
const char* one_hidden = "[[layer]]\ntype=\"dense\"\nunits=7\nactivation=\"relu\"\n";

class FeedbackRules : public testing::RuleTest {
 protected:
  std::vector<Tensor> grads(Network& n) {
    std::vector<Tensor> all;
    for (Parameter* p : n.parameters())
      if (!p->name.ends_with(".feedback")) all.push_back(p->grad.clone());
    return all;
  }
  std::vector<Tensor> backprop(Network& n, const Batch& b, Loss loss = Loss::cross_entropy) {
    n.forward(*backend, b.inputs);
    compute_loss(*backend, loss, n, b.labels);
    n.backward(*backend, Pathway::forward_weights);
    return grads(n);
  }
  static void expect_equal(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected,
                           const std::string& what) {
    ASSERT_EQ(actual.size(), expected.size()) << what;
    for (size_t i = 0; i < actual.size(); ++i)
      for (size_t j = 0; j < actual[i].numel(); ++j)
        ASSERT_NEAR(actual[i].at(j), expected[i].at(j), 1e-6 + 1e-5 * std::abs(expected[i].at(j)))
            << what << " tensor " << i;
  }
};

TEST_F(FeedbackRules, FaWithFeedbackEqualToWeightsIsBackprop) {
  auto n = net(small_conv, {1, 11, 11});
  auto fa = rule("fa");
  fa->attach(*n, *backend, 1);
  const Batch b = batch({3, 1, 11, 11}, 4);
  fa->step(*n, b, *backend);
  const auto random_b = grads(*n);
  for (int i : n->weighted_layers()) {
    auto& layer = dynamic_cast<WeightedLayer&>(n->layer(i));
    layer.set_feedback_weights(layer.weights().value.clone());
  }
  fa->step(*n, b, *backend);
  const auto fa_grads = grads(*n);
  expect_equal(fa_grads, backprop(*n, b), "fa with B = W");
  // With the random B the first layers' updates differ from bp's (the rule really uses B).
  double difference = 0;
  for (size_t j = 0; j < random_b[0].numel(); ++j) difference += std::abs(random_b[0].at(j) - fa_grads[0].at(j));
  EXPECT_GT(difference, 1e-4);
}

TEST_F(FeedbackRules, DfaWithOneHiddenLayerAndBEqualToTheReadoutIsBackprop) {
  auto n = net(one_hidden, {5}, 3);
  auto dfa = rule("dfa");
  dfa->attach(*n, *backend, 1);
  ASSERT_EQ(dfa->rule_parameters().size(), 1u);
  Tensor& projection = dfa->rule_parameters()[0]->value;
  const Tensor& readout = dynamic_cast<WeightedLayer&>(n->layer(2)).weights().value;
  ASSERT_EQ(projection.shape(), readout.shape());  // (classes, hidden units)
  backend->copy(readout, projection);
  const Batch b = batch({4, 5}, 3);
  dfa->step(*n, b, *backend);
  expect_equal(grads(*n), backprop(*n, b), "dfa with B = W_out");
}

TEST_F(FeedbackRules, DfaProjectsToEveryHiddenLayerThroughOneMatrix) {
  auto n = net(small_conv, {1, 11, 11});
  auto dfa = rule("dfa");
  dfa->attach(*n, *backend, 1);
  // Widths of the inputs of the 2nd, 3rd and 4th weighted layers: 3*5*5 + 2*4*4 + 6.
  EXPECT_EQ(dfa->rule_parameters()[0]->value.shape(), (Shape{4, 75 + 32 + 6}));
  dfa->step(*n, batch({2, 1, 11, 11}, 4), *backend);
  for (Parameter* p : n->parameters()) EXPECT_GT(backend->sum_of_squares(p->grad), 0.0) << p->name;
}

TEST_F(FeedbackRules, SignSymmetryUsesTheSignsOfTheCurrentWeights) {
  for (const char* scaling : {"none", "rms"}) {
    auto n = net(small_conv, {1, 11, 11});
    auto ss = rule("sign_symmetry", {{"scaling", std::string(scaling)}});
    ss->attach(*n, *backend, 1);
    ss->step(*n, batch({2, 1, 11, 11}, 4), *backend);
    for (int i : n->weighted_layers()) {
      auto& layer = dynamic_cast<WeightedLayer&>(n->layer(i));
      const Tensor &w = layer.weights().value, &b = layer.feedback_weights();
      const float scale =
          std::string(scaling) == "rms"
              ? static_cast<float>(std::sqrt(backend->sum_of_squares(w) / static_cast<double>(w.numel())))
              : 1.0f;
      for (size_t j = 0; j < w.numel(); ++j) ASSERT_FLOAT_EQ(b.at(j), w.at(j) > 0 ? scale : -scale) << scaling;
    }
  }
}

// DFA's walk from the projection back to a weighted layer goes through everything between: here
// ReLU, batch norm (training: batch statistics), max pooling and dropout (its mask of this step). With
// B equal to the readout's weights and one hidden block, DFA is backprop on the same forward pass.
TEST_F(FeedbackRules, DfaWalksBackThroughPoolingBatchNormAndDropout) {
  const char* block =
      "[[layer]]\ntype=\"conv2d\"\nchannels=3\nkernel=3\nactivation=\"relu\"\n"
      "[[layer]]\ntype=\"batch_norm\"\n[[layer]]\ntype=\"max_pool2d\"\nkernel=2\nstride=2\n"
      "[[layer]]\ntype=\"dropout\"\nrate=0.3\n";
  auto n = net(block, {1, 9, 9}, 3);
  n->set_training(true);
  auto dfa = rule("dfa");
  dfa->attach(*n, *backend, 1);
  Tensor& projection = dfa->rule_parameters()[0]->value;
  const Tensor& readout = dynamic_cast<WeightedLayer&>(n->layer(n->weighted_layers().back())).weights().value;
  ASSERT_EQ(projection.shape(), readout.shape());  // (classes, 3 x 3 x 3)
  backend->copy(readout, projection);
  const Batch b = batch({6, 1, 9, 9}, 3);
  dfa->step(*n, b, *backend);
  const std::vector<Tensor> dfa_grads = grads(*n);
  // Backprop on the forward pass the step made (same masks, same batch statistics).
  compute_loss(*backend, Loss::cross_entropy, *n, b.labels);
  n->backward(*backend, Pathway::forward_weights);
  expect_equal(dfa_grads, grads(*n), "dfa through relu, batch norm, max pooling and dropout");
}

// Sign symmetry reads the signs of W as they are when the step starts: after an optimiser step that
// flips signs, the next step's gradient is FA's with B = sign(W) of the updated weights, not one step late.
TEST_F(FeedbackRules, SignSymmetryFollowsWAfterAnOptimiserStep) {
  auto n = net(small_conv, {1, 11, 11});
  auto ss = rule("sign_symmetry", {{"scaling", std::string("none")}});
  ss->attach(*n, *backend, 1);
  Options sgd_options;
  sgd_options.set("learning_rate", 50.0);  // large enough to flip the signs of many weights
  sgd_options.set("momentum", 0.0);
  auto sgd = make_optimizer("sgd", sgd_options);
  const Batch b = batch({2, 1, 11, 11}, 4);
  ss->step(*n, b, *backend);
  const int first = n->weighted_layers().back();
  const Tensor before = dynamic_cast<WeightedLayer&>(n->layer(first)).weights().value.clone();
  sgd->step(*backend, n->parameters());
  const Tensor& after = dynamic_cast<WeightedLayer&>(n->layer(first)).weights().value;
  int flipped = 0;
  for (size_t j = 0; j < after.numel(); ++j) flipped += (before.at(j) > 0) != (after.at(j) > 0);
  ASSERT_GT(flipped, 0) << "no sign flipped: the test would be vacuous";
  ss->step(*n, b, *backend);
  const std::vector<Tensor> ss_grads = grads(*n);
  for (int i : n->weighted_layers()) {  // FA with B = sign(W now), on the same forward pass
    auto& layer = dynamic_cast<WeightedLayer&>(n->layer(i));
    backend->sign(layer.weights().value, 1.0f, layer.feedback_weights());
  }
  compute_loss(*backend, Loss::cross_entropy, *n, b.labels);
  n->backward(*backend, Pathway::feedback_weights);
  expect_equal(ss_grads, grads(*n), "sign symmetry after an optimiser step");
}

// FA_Ex (Konishi et al. 2023): with one hidden layer, one output and p% excitatory units, the hidden
// update is their dW1_ij = sum_b s_i f'(I_bi) e_b x_bj, s_i = +1 (excitatory) or -1 (inhibitory). With
// K outputs the feedback B_ki = s_i m_ki keeps each unit's sign with magnitudes m_ki = |N(0, 1)|, and
// the update is sum_b s_i f'(I_bi) (sum_k m_ki e_bk) x_bj.
TEST_F(FeedbackRules, FaExUpdateMatchesItsFormula) {
  for (int outputs : {1, 3})
    for (double percent : {100.0, 50.0}) {
      auto n = net(one_hidden, {5}, outputs);
      auto fa_ex = rule("fa_ex", {{"excitatory_percent", percent}, {"loss", std::string("mse")}});
      fa_ex->attach(*n, *backend, 6);
      const Batch b = batch({4, 5}, outputs);
      fa_ex->step(*n, b, *backend);
      const Tensor& feedback = dynamic_cast<WeightedLayer&>(n->layer(2)).feedback_weights();  // (K, 7)
      const Tensor &x = b.inputs, &pre = n->activations(1), &e = n->gradient(3);
      const Tensor& grad = n->parameters()[0]->grad;  // (7, 5)
      const std::string what = std::to_string(outputs) + " outputs, " + std::to_string(percent) + "%";
      int inhibitory = 0;
      for (int i = 0; i < 7; ++i) {
        const float s = feedback.at(static_cast<size_t>(i)) > 0 ? 1.0f : -1.0f;
        inhibitory += s < 0;
        for (int k = 0; k < outputs; ++k) {
          const float entry = feedback.at(static_cast<size_t>(k * 7 + i));
          ASSERT_EQ(entry > 0 ? 1.0f : -1.0f, s) << what << ": unit " << i << " changes sign across outputs";
          if (outputs == 1) {
            ASSERT_EQ(std::abs(entry), 1.0f) << what << ": the paper's rule has unit feedback";
          }
        }
        for (int j = 0; j < 5; ++j) {
          double expected = 0;
          for (int bi = 0; bi < 4; ++bi) {
            double error = 0;
            for (int k = 0; k < outputs; ++k)
              error +=
                  std::abs(feedback.at(static_cast<size_t>(k * 7 + i))) * e.at(static_cast<size_t>(bi * outputs + k));
            const double derivative = pre.at(static_cast<size_t>(bi * 7 + i)) > 0 ? 1.0 : 0.0;
            expected += s * derivative * error * x.at(static_cast<size_t>(bi * 5 + j));
          }
          ASSERT_NEAR(grad.at(static_cast<size_t>(i * 5 + j)), expected, 1e-6) << what << " unit " << i;
        }
      }
      if (percent == 100.0)
        EXPECT_EQ(inhibitory, 0) << what;
      else
        EXPECT_GT(inhibitory, 0) << what;
      if (outputs > 1) {  // magnitudes vary, or the rows would be identical again
        EXPECT_NE(std::abs(feedback.at(0)), std::abs(feedback.at(7))) << what;
      }
    }
}

// With K > 1 outputs and softmax cross-entropy, sum_k e_k = 0 for every trial: identical feedback rows
// (the sign vector in every row) froze every layer below the readout (hidden gradient norm 7e-8 against
// 1.1 for the readout). The hidden layers must get a real error.
TEST_F(FeedbackRules, FaExReachesTheHiddenLayersUnderSoftmaxCrossEntropy) {
  auto n =
      net("[[layer]]\ntype=\"dense\"\nunits=16\nactivation=\"relu\"\n"
          "[[layer]]\ntype=\"dense\"\nunits=16\nactivation=\"relu\"\n",
          {20}, 10);
  auto fa_ex = rule("fa_ex");
  fa_ex->attach(*n, *backend, 3);
  fa_ex->step(*n, batch({8, 20}, 10), *backend);
  const auto parameters = n->parameters();
  const double readout = backend->sum_of_squares(parameters.back()->grad);
  for (Parameter* p : parameters)
    if (p->name.ends_with(".weights")) {
      EXPECT_GT(std::sqrt(backend->sum_of_squares(p->grad) / readout), 1e-2) << p->name;
    }
}

// FA_Ex trains its hidden layers, ELM only the readout: on the same subset, seed and learning rate FA_Ex
// must be clearly better (before the fix they printed identical curves).
TEST_F(FeedbackRules, FaExLearnsBetterThanElm) {
  testing::SubsetRun run;
  const double fa_ex = testing::fashion_subset_accuracy("fa_ex", Options{}, run);
  const double elm = testing::fashion_subset_accuracy("elm", Options{}, run);
  RecordProperty("fa_ex", std::to_string(fa_ex));
  RecordProperty("elm", std::to_string(elm));
  EXPECT_GT(fa_ex, elm + 0.02) << "fa_ex " << fa_ex << ", elm " << elm;
}

// Dale's law (our reading of FA_Ex-p% for p < 100): a unit's type also fixes the sign of its
// outgoing weights, through every update.
TEST_F(FeedbackRules, FaExWithDalesLawKeepsTheSignsOfOutgoingWeights) {
  auto n = net(one_hidden, {5}, 3);
  auto fa_ex = rule("fa_ex", {{"excitatory_percent", 50.0}, {"dale", true}});
  fa_ex->attach(*n, *backend, 6);
  Options options;
  options.set("learning_rate", 0.5);
  auto sgd = make_optimizer("sgd", options);
  for (int step = 0; step < 5; ++step) {
    fa_ex->step(*n, batch({4, 5}, 3), *backend);
    sgd->step(*backend, fa_ex->trainable(*n));
    fa_ex->after_update(*n, *backend);
  }
  auto& readout = dynamic_cast<WeightedLayer&>(n->layer(2));
  const Tensor &w = readout.weights().value, &signs = readout.feedback_weights();
  int nonzero = 0;
  for (size_t j = 0; j < w.numel(); ++j) {
    ASSERT_GE(w.at(j) * signs.at(j), 0.0f) << "weight " << j << " crossed its unit's sign";
    nonzero += w.at(j) != 0.0f;
  }
  EXPECT_GT(nonzero, 0);
}

TEST_F(FeedbackRules, ElmTrainsOnlyTheReadout) {
  auto n = net(one_hidden, {5}, 3);
  auto elm = rule("elm");
  elm->attach(*n, *backend, 1);
  const auto trainable = elm->trainable(*n);
  ASSERT_EQ(trainable.size(), 2u);
  EXPECT_EQ(trainable[0]->name, "layer2.dense.weights");
  const Batch b = batch({4, 5}, 3);
  elm->step(*n, b, *backend);
  const Tensor readout = trainable[0]->grad.clone();
  expect_equal({readout}, {backprop(*n, b)[2]}, "elm readout");
}

// WP and NP estimate the gradient without bias: the mean of 20000 single perturbations comes within
// 15% (relative L2 error) of backprop's gradient. Fixed seed, so the test is deterministic.
TEST_F(FeedbackRules, PerturbationEstimatesAreUnbiased) {
  for (const char* name : {"wp", "np"}) {
    auto n = net("[[layer]]\ntype=\"dense\"\nunits=4\nactivation=\"tanh\"\n", {5}, 3);
    auto estimator = rule(name, {{"sigma", 1e-3}, {"perturbations", 20000LL}, {"loss", std::string("mse")}});
    estimator->attach(*n, *backend, 2);
    const Batch b = batch({4, 5}, 3);
    estimator->step(*n, b, *backend);
    const auto estimate = grads(*n);
    const auto exact = backprop(*n, b, Loss::mean_squared_error);
    for (size_t i = 0; i < exact.size(); ++i) {
      double error = 0, norm = 0;
      for (size_t j = 0; j < exact[i].numel(); ++j) {
        error += std::pow(estimate[i].at(j) - exact[i].at(j), 2);
        norm += std::pow(exact[i].at(j), 2);
      }
      EXPECT_LT(std::sqrt(error / norm), 0.15) << name << " parameter " << i;
    }
  }
}

// With dropout and batch norm in training mode the perturbed passes repeat the clean pass's masks: the
// estimates come as close to backprop (on the same masks) as on the net without dropout (the 15% above).
// Before, every perturbed pass drew a new mask, which moved the loss far more than the perturbation
// (probe: the error grew from 0.7 to 8.3 for wp and from 0.6 to 50 for np).
TEST_F(FeedbackRules, PerturbationEstimatesSurviveDropout) {
  const char* with_dropout =
      "[[layer]]\ntype=\"dense\"\nunits=4\nactivation=\"tanh\"\n[[layer]]\ntype=\"batch_norm\"\n"
      "[[layer]]\ntype=\"dropout\"\nrate=0.3\n";
  for (const char* name : {"wp", "np"}) {
    auto n = net(with_dropout, {5}, 3);
    n->set_training(true);
    auto estimator = rule(name, {{"sigma", 1e-3}, {"perturbations", 20000LL}, {"loss", std::string("mse")}});
    estimator->attach(*n, *backend, 2);
    const Batch b = batch({4, 5}, 3);
    estimator->step(*n, b, *backend);
    std::vector<Tensor> estimate;
    for (Parameter* p : estimator->trainable(*n)) estimate.push_back(p->grad.clone());
    // Backprop on the clean pass's draws: the same masks, repeated.
    {
      const RepeatDraws same_masks(*n);
      n->forward(*backend, b.inputs);
      compute_loss(*backend, Loss::mean_squared_error, *n, b.labels);
      n->backward(*backend, Pathway::forward_weights);
    }
    const auto trainable = estimator->trainable(*n);
    for (size_t i = 0; i < trainable.size(); ++i) {
      const Tensor& exact = trainable[i]->grad;
      double error = 0, norm = 0;
      for (size_t j = 0; j < exact.numel(); ++j) {
        error += std::pow(estimate[i].at(j) - exact.at(j), 2);
        norm += std::pow(exact.at(j), 2);
      }
      EXPECT_LT(std::sqrt(error / norm), 0.15) << name << " " << trainable[i]->name;
    }
  }
}

// np with each trial's own loss change (the default where no layer mixes trials) estimates the same
// gradient with far less variance than with the batch's loss change: with 16 trials and the same 500
// perturbations its error against backprop is under half (theory: a quarter, sqrt(16) less).
TEST_F(FeedbackRules, NodePerturbationUsesEachTrialsOwnLossChange) {
  const auto error_against_backprop = [&](bool per_trial) {
    auto n = net("[[layer]]\ntype=\"dense\"\nunits=4\nactivation=\"tanh\"\n", {5}, 3);
    auto np =
        rule("np", {{"sigma", 1e-3}, {"perturbations", 500LL}, {"loss", std::string("mse")}, {"per_trial", per_trial}});
    np->attach(*n, *backend, 2);
    const Batch b = batch({16, 5}, 3);
    np->step(*n, b, *backend);
    const auto estimate = grads(*n);
    const auto exact = backprop(*n, b, Loss::mean_squared_error);
    double error = 0, norm = 0;
    for (size_t i = 0; i < exact.size(); ++i)
      for (size_t j = 0; j < exact[i].numel(); ++j) {
        error += std::pow(estimate[i].at(j) - exact[i].at(j), 2);
        norm += std::pow(exact[i].at(j), 2);
      }
    return std::sqrt(error / norm);
  };
  const double per_trial = error_against_backprop(true), per_batch = error_against_backprop(false);
  RecordProperty("per_trial_error", std::to_string(per_trial));
  RecordProperty("per_batch_error", std::to_string(per_batch));
  EXPECT_LT(per_trial, 0.5 * per_batch) << "per trial " << per_trial << ", per batch " << per_batch;
  EXPECT_LT(per_trial, 0.3);
}

// A step's perturbed passes leave batch norm's running statistics where its clean pass put them.
TEST_F(FeedbackRules, PerturbedPassesDoNotMoveBatchNormStatistics) {
  const char* with_batch_norm =
      "[[layer]]\ntype=\"dense\"\nunits=4\nactivation=\"tanh\"\n[[layer]]\ntype=\"batch_norm\"\n";
  for (const char* name : {"wp", "np"}) {
    auto stepped = net(with_batch_norm, {5}, 3), reference = net(with_batch_norm, {5}, 3);
    stepped->set_training(true);
    reference->set_training(true);
    auto estimator = rule(name, {{"perturbations", 5LL}});
    estimator->attach(*stepped, *backend, 2);
    const Batch b = batch({4, 5}, 3);
    estimator->step(*stepped, b, *backend);
    reference->forward(*backend, b.inputs);  // one clean pass
    const auto moved = stepped->state(), once = reference->state();
    ASSERT_EQ(moved.size(), 2u);
    for (size_t i = 0; i < moved.size(); ++i)
      for (size_t j = 0; j < moved[i]->value.numel(); ++j)
        ASSERT_EQ(moved[i]->value.at(j), once[i]->value.at(j)) << name << " " << moved[i]->name;
  }
}

// With the batch statistics held (learned feedback's noisy pass), a change to one sample leaves every other
// sample's output as the clean pass made it, and the backward pass treats the statistics as constants
// (dx = gamma / sqrt(var + eps) * dy); with them recomputed, the other samples' outputs move.
TEST_F(FeedbackRules, HeldBatchStatisticsDecoupleTheSamples) {
  const char* with_batch_norm = "[[layer]]\ntype=\"batch_norm\"\n";
  for (const bool hold : {true, false}) {
    auto n = net(with_batch_norm, {3}, 3);
    n->set_training(true);
    const Batch b = batch({4, 3}, 3);
    const Tensor clean = n->forward(*backend, b.inputs).clone();
    Tensor changed = b.inputs.clone();
    for (int j = 0; j < 3; ++j) changed.at(static_cast<size_t>(j)) += 2.0f;  // sample 0 only
    std::optional<HoldBatchStatistics> held;
    if (hold) held.emplace(*n);
    EXPECT_EQ(n->mixes_samples(), !hold);
    const Tensor noisy = n->forward(*backend, changed).clone();
    double others_moved = 0;
    for (size_t i = 3; i < clean.numel(); ++i)
      others_moved = std::max(others_moved, std::abs(double{noisy.at(i)} - clean.at(i)));
    if (!hold) {
      EXPECT_GT(others_moved, 0.1);
      continue;
    }
    EXPECT_EQ(others_moved, 0.0);
    Tensor dy(noisy.shape()), dx(noisy.shape());
    for (size_t i = 0; i < dy.numel(); ++i) dy.at(i) = 0.1f * static_cast<float>(i % 5) - 0.2f;
    n->layer(0).backward_data(*backend, changed, noisy, dy, dx, Pathway::forward_weights);
    // gamma is 1: dx = dy / sqrt(var + eps), the clean batch's variance of each feature.
    for (int j = 0; j < 3; ++j) {
      double mean = 0, var = 0;
      for (int r = 0; r < 4; ++r) mean += b.inputs.at(static_cast<size_t>(r * 3 + j)) / 4.0;
      for (int r = 0; r < 4; ++r) var += std::pow(b.inputs.at(static_cast<size_t>(r * 3 + j)) - mean, 2) / 4.0;
      for (int r = 0; r < 4; ++r) {
        const size_t i = static_cast<size_t>(r * 3 + j);
        EXPECT_NEAR(dx.at(i), dy.at(i) / std::sqrt(var + 1e-3), 1e-4) << "sample " << r << " feature " << j;
      }
    }
  }
}

TEST_F(FeedbackRules, AlignmentAnglesAreZeroForSymmetricFeedbackAndLargeForRandom) {
  auto n = net(small_conv, {1, 11, 11});
  auto fa = rule("fa");
  fa->attach(*n, *backend, 1);
  const Batch b = batch({3, 1, 11, 11}, 4);
  for (const LayerAlignment& a : measure_alignment(*n, *fa, b, *backend))
    if (a.layer != n->weighted_layers().back()) {
      EXPECT_GT(a.feedback_angle, 45.0) << "random B is far from W, layer " << a.layer;
    }
  for (int i : n->weighted_layers()) {
    auto& layer = dynamic_cast<WeightedLayer&>(n->layer(i));
    layer.set_feedback_weights(layer.weights().value.clone());
  }
  const auto aligned = measure_alignment(*n, *fa, b, *backend);
  ASSERT_EQ(aligned.size(), 4u);
  for (const LayerAlignment& a : aligned) {
    EXPECT_NEAR(a.update_angle, 0.0, 0.1) << "layer " << a.layer;
    EXPECT_NEAR(a.feedback_angle, 0.0, 0.1) << "layer " << a.layer;
  }
}

TEST_F(FeedbackRules, FixedFeedbackWeightsAreSavedInCheckpoints) {
  auto n = net(one_hidden, {5}, 3);
  auto fa = rule("fa");
  fa->attach(*n, *backend, 1);
  const std::string path = ::testing::TempDir() + "fa-checkpoint.bin";
  save_checkpoint(path, *n, *backend, {}, fa->rule_parameters());
  std::vector<std::string> names;
  const nlohmann::json record = read_checkpoint_record(path);
  for (const auto& p : record.at("parameters")) names.push_back(p.at("name"));
  EXPECT_NE(std::find(names.begin(), names.end(), "layer0.dense.feedback"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "layer2.dense.feedback"), names.end());
  std::remove(path.c_str());
}

TEST_F(FeedbackRules, BadOptionsAreClearErrors) {
  EXPECT_THROW(rule("fa", {{"feedback_init", std::string("cauchy")}}), Error);
  EXPECT_THROW(rule("fa_ex", {{"excitatory_percent", 120.0}}), Error);
  EXPECT_THROW(rule("wp", {{"sigma", 0.0}}), Error);
  EXPECT_THROW(rule("np", {{"perturbations", 0LL}}), Error);
  EXPECT_THROW(rule("sign_symmetry", {{"scaling", std::string("norm")}}), Error);
  EXPECT_THROW(rule("elm", {{"feedback_init", std::string("normal")}}), Error);  // elm has no feedback
}

struct LearningCase {
  const char* rule;
  double learning_rate;
  double above;                 // final test accuracy the rule must beat (chance is 0.10)
  long long perturbations = 0;  // wp / np: estimates averaged per batch (their variance needs several)
};

class RulesLearn : public ::testing::TestWithParam<LearningCase> {};

TEST_P(RulesLearn, FashionMnistSubsetAboveChance) {
  Options rule_options;
  if (GetParam().perturbations > 0) rule_options.set("perturbations", GetParam().perturbations);
  testing::SubsetRun run;
  run.learning_rate = GetParam().learning_rate;
  EXPECT_GT(testing::fashion_subset_accuracy(GetParam().rule, rule_options, run), GetParam().above) << GetParam().rule;
}

INSTANTIATE_TEST_SUITE_P(Rules, RulesLearn,
                         ::testing::Values(LearningCase{"fa", 0.01, 0.6}, LearningCase{"dfa", 0.01, 0.6},
                                           LearningCase{"sign_symmetry", 0.01, 0.6}, LearningCase{"fa_ex", 0.01, 0.5},
                                           LearningCase{"elm", 0.01, 0.5}, LearningCase{"np", 3e-4, 0.25, 10},
                                           LearningCase{"wp", 1e-3, 0.3, 10}),
                         [](const ::testing::TestParamInfo<LearningCase>& param_info) {
                           return std::string(param_info.param.rule);
                         });

}  // namespace
}  // namespace bioprop
