// BrainProp / Q-AGREL: the defining math. The update equals backprop's gradient of the chosen unit's
// squared reward-prediction error (Pozzi et al. 2020, section 3); B stays equal to W; the gate's
// rewards, RPEs and exploration statistics match their formulas.
#include <gtest/gtest.h>

#include <cmath>

#include "bioprop/config.hpp"
#include "bioprop/error.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rule.hpp"
#include "bioprop/trainer.hpp"
#include "gradient_check.hpp"
#include "train_subset.hpp"

namespace bioprop {
namespace {

class AttentionGated : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend = make_cpu_backend();

  std::unique_ptr<Rule> rule(const std::string& name, double epsilon, const std::string& feedback = "symmetric") {
    Options options;
    options.set("epsilon", epsilon);
    options.set("feedback", feedback);
    return make_rule(name, options);
  }
  Batch random_batch(const Shape& shape, int classes, uint64_t seed) {
    Batch batch{testing::random_tensor(*backend, shape, seed), Tensor({shape[0]})};
    for (int b = 0; b < shape[0]; ++b)
      batch.labels.at(static_cast<size_t>(b)) = static_cast<float>((b * 7 + 3) % classes);
    return batch;
  }
};

// Backprop's gradient of 1/(2N) sum_b (r_b - Z_b[a_b])^2 for given actions, through W (or through the
// feedback weights B: the pathway the tags take).
std::vector<Tensor> backprop_of_chosen_units(Network& net, Backend& backend, const Batch& batch, const Tensor& actions,
                                             Pathway pathway = Pathway::forward_weights) {
  const Tensor& z = net.forward(backend, batch.inputs);
  Tensor& dz = net.gradient(net.size());
  backend.fill(dz, 0.0f);
  const int n = batch.size(), k = z.dim(1);
  for (int b = 0; b < n; ++b) {
    const int a = static_cast<int>(actions.at(static_cast<size_t>(b)));
    const float r = static_cast<float>(a) == batch.labels.at(static_cast<size_t>(b)) ? 1.0f : 0.0f;
    dz.at(static_cast<size_t>(b * k + a)) = -(r - z.at(static_cast<size_t>(b * k + a))) / static_cast<float>(n);
  }
  net.backward(backend, pathway);
  std::vector<Tensor> grads;
  for (Parameter* p : net.parameters())
    if (!p->name.ends_with(".feedback")) grads.push_back(p->grad.clone());
  return grads;
}

// One BrainProp step (exploring often, so non-greedy actions are covered too) on `net` and `batch`
// leaves in every parameter backprop's gradient of the chosen units' squared RPE.
void expect_update_equals_backprop_of_chosen_units(Network& net, Backend& backend, Rule& brainprop, const Batch& batch,
                                                   const std::string& what,
                                                   Pathway pathway = Pathway::forward_weights) {
  brainprop.attach(net, backend, 21);
  brainprop.step(net, batch, backend);
  std::vector<Tensor> brainprop_grads;
  for (Parameter* p : net.parameters())
    if (!p->name.ends_with(".feedback")) brainprop_grads.push_back(p->grad.clone());
  // Recover the actions by re-running the gate with the step's draws (seed 21, step 0).
  GateOutputs gate;
  Tensor tags(net.output().shape());
  backend.attention_gate(net.output(), batch.labels, {0.5f, 1.0f}, 21, 0, gate, tags);
  const auto expected = backprop_of_chosen_units(net, backend, batch, gate.actions, pathway);
  ASSERT_EQ(expected.size(), brainprop_grads.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    double scale = 0;
    for (float v : expected[i].values()) scale = std::max(scale, std::abs(static_cast<double>(v)));
    ASSERT_GT(scale, 0.0) << what << " parameter " << i << " has no gradient: the test would be vacuous";
    for (size_t j = 0; j < expected[i].numel(); ++j)
      ASSERT_NEAR(brainprop_grads[i].at(j), expected[i].at(j), 1e-5 * scale + 1e-7) << what << " parameter " << i;
  }
}

// With and without biases: dense and locally connected layers without biases take the fused
// three-factor update (Backend::*_three_factor_update), the others scale the tags first.
TEST_F(AttentionGated, UpdateEqualsBackpropOfTheChosenUnitOnThePapersNets) {
  for (const char* net_name : {"dense", "conv", "loccon"})
    for (bool bias : {true, false}) {
      auto net = build_network(load_net_source(net_name), {1, 28, 28}, 10, 3, *backend, {"", 0.0, bias});
      expect_update_equals_backprop_of_chosen_units(
          *net, *backend, *rule("brainprop", 0.5), random_batch({5, 1, 28, 28}, 10, 4),
          std::string(net_name) + (bias ? " with biases" : " without biases"));
    }
}

// Batch norm in training mixes the trials of a batch; the RPE then enters at the output and the update
// is still backprop's gradient of the chosen units' squared error (batch norm's scale and shift too).
TEST_F(AttentionGated, UpdateEqualsBackpropWithBatchNormWhileTraining) {
  const NetSource source{"bn", "test net with batch norm", R"(
[[layer]]
type = "conv2d"
channels = 3
kernel = 3
stride = 2
activation = "relu"
[[layer]]
type = "batch_norm"
[[layer]]
type = "dense"
units = 12
activation = "tanh"
[[layer]]
type = "batch_norm"
)"};
  auto net = build_network(source, {1, 9, 9}, 4, 3, *backend);
  net->set_training(true);
  ASSERT_TRUE(net->mixes_samples());
  expect_update_equals_backprop_of_chosen_units(*net, *backend, *rule("brainprop", 0.5),
                                                random_batch({6, 1, 9, 9}, 4, 4), "batch-norm net");
}

// With feedback = random the tags travel down through the fixed B, not W (reward-based feedback
// alignment): the update equals backprop of the chosen units along B, and differs from the one along W,
// so a rule that used W here fails.
TEST_F(AttentionGated, RandomFeedbackCarriesTheTagsThroughB) {
  for (const char* net_name : {"dense", "loccon"}) {
    auto net = build_network(load_net_source(net_name), {1, 28, 28}, 10, 3, *backend, {"", 0.0, false});
    const Batch batch = random_batch({5, 1, 28, 28}, 10, 4);
    auto reward_fa = rule("brainprop", 0.5, "random");
    expect_update_equals_backprop_of_chosen_units(
        *net, *backend, *reward_fa, batch, std::string(net_name) + ", random feedback", Pathway::feedback_weights);
    GateOutputs gate;
    Tensor tags(net->output().shape());
    backend->attention_gate(net->output(), batch.labels, {0.5f, 1.0f}, 21, 0, gate, tags);
    const auto along_b = backprop_of_chosen_units(*net, *backend, batch, gate.actions, Pathway::feedback_weights);
    const auto along_w = backprop_of_chosen_units(*net, *backend, batch, gate.actions, Pathway::forward_weights);
    double scale = 0, difference = 0;
    for (size_t j = 0; j < along_b[0].numel(); ++j) {
      scale = std::max(scale, std::abs(static_cast<double>(along_b[0].at(j))));
      difference = std::max(difference, std::abs(static_cast<double>(along_b[0].at(j) - along_w[0].at(j))));
    }
    EXPECT_GT(difference, 0.1 * scale) << net_name << ": B and W paths must differ, or the test is vacuous";
  }
}

TEST_F(AttentionGated, FeedbackWeightsStayEqualToForwardWeights) {
  auto net = build_network(load_net_source("conv"), {1, 12, 12}, 4, 5, *backend);
  net->set_training(true);  // batch norm on batch statistics, dropout on
  auto qagrel = rule("qagrel", 0.1);
  qagrel->attach(*net, *backend, 1);
  Options sgd_options;
  sgd_options.set("learning_rate", 0.1);
  sgd_options.set("weight_decay", 1e-3);
  auto sgd = make_optimizer("sgd", sgd_options);
  for (int step = 0; step < 5; ++step) {
    qagrel->step(*net, random_batch({4, 1, 12, 12}, 4, static_cast<uint64_t>(step)), *backend);
    sgd->step(*backend, net->parameters());
  }
  int layers_checked = 0;
  for (int i = 0; i < net->size(); ++i)
    if (auto* layer = dynamic_cast<WeightedLayer*>(&net->layer(i))) {
      const Tensor &w = layer->weights().value, &b = layer->feedback_weights();
      for (size_t j = 0; j < w.numel(); ++j) {
        ASSERT_TRUE(std::isfinite(w.at(j))) << "layer " << i;
        ASSERT_EQ(w.at(j), b.at(j)) << "layer " << i;
      }
      ++layers_checked;
    }
  EXPECT_EQ(layers_checked, 4);
}

TEST_F(AttentionGated, FixedRandomFeedbackDoesNotLearn) {
  auto net = build_network(load_net_source("dense"), {1, 8, 8}, 3, 5, *backend);
  auto reward_fa = rule("brainprop", 0.02, "random");
  reward_fa->attach(*net, *backend, 2);
  auto* first = dynamic_cast<WeightedLayer*>(&net->layer(0));
  const Tensor before = first->feedback_weights().clone();
  Options options;
  auto sgd = make_optimizer("sgd", options);
  for (int step = 0; step < 3; ++step) {
    reward_fa->step(*net, random_batch({4, 1, 8, 8}, 3, 9), *backend);
    sgd->step(*backend, net->parameters());
  }
  for (size_t j = 0; j < before.numel(); ++j) ASSERT_EQ(before.at(j), first->feedback_weights().at(j));
  EXPECT_NE(before.at(0), first->weights().value.at(0));
}

TEST_F(AttentionGated, GreedyRewardsAndPredictionErrorsForHandMadeTrials) {
  const Tensor q = Tensor::from({3, 4}, std::vector<float>{0.1f, 0.7f, 0.2f, 0.0f,        // argmax 1
                                                           0.3f, 0.3f, -1.0f, 0.25f,      // tie: first maximum, 0
                                                           -0.5f, -0.2f, -0.9f, -0.4f});  // argmax 1
  const Tensor labels = Tensor::from({3}, std::vector<float>{1, 2, 1});
  GateOutputs gate;
  Tensor tags({3, 4});
  backend->attention_gate(q, labels, {0.0f, 1.0f}, 1, 0, gate, tags);
  EXPECT_EQ(std::vector<float>(gate.actions.values().begin(), gate.actions.values().end()),
            (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(std::vector<float>(gate.rewards.values().begin(), gate.rewards.values().end()),
            (std::vector<float>{1, 0, 1}));
  EXPECT_FLOAT_EQ(gate.rpe.at(0), 1.0f - 0.7f);
  EXPECT_FLOAT_EQ(gate.rpe.at(1), 0.0f - 0.3f);
  EXPECT_FLOAT_EQ(gate.rpe.at(2), 1.0f + 0.2f);
  EXPECT_EQ(std::vector<float>(tags.values().begin(), tags.values().end()),
            (std::vector<float>{0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(std::vector<float>(gate.greedy_correct.values().begin(), gate.greedy_correct.values().end()),
            (std::vector<float>{1, 0, 1}));
  // The loss is 1/(2N) sum of squared RPEs; the accuracy counts the greedy actions at the label.
  const ScoredLoss score = backend->score_gate(gate);
  EXPECT_FLOAT_EQ(score.loss, (0.3f * 0.3f + 0.3f * 0.3f + 1.2f * 1.2f) / 6.0f);
  EXPECT_EQ(score.correct, 2);
}

// With exploration the chosen action may differ from the greedy one; accuracy follows the greedy one.
TEST_F(AttentionGated, AccuracyCountsGreedyActionsNotExploredOnes) {
  const int trials = 200;
  Tensor q({trials, 3}), labels({trials});
  for (int b = 0; b < trials; ++b) {  // the largest value is at the label in every other trial
    q.at(static_cast<size_t>(3 * b + b % 3)) = 1.0f;
    labels.at(static_cast<size_t>(b)) = static_cast<float>(b % 2 == 0 ? b % 3 : (b + 1) % 3);
  }
  GateOutputs gate;
  Tensor tags({trials, 3});
  backend->attention_gate(q, labels, {1.0f, 100.0f}, 1, 0, gate, tags);  // always explore, nearly uniformly
  const ScoredLoss score = backend->score_gate(gate);
  EXPECT_EQ(score.correct, backend->count_correct(q, labels));
  EXPECT_EQ(score.correct, trials / 2);
  double rewards = 0;
  for (float r : gate.rewards.values()) rewards += r;
  EXPECT_NE(static_cast<int>(rewards), score.correct);  // explored actions were rewarded otherwise
}

// P(a) = (1 - eps) [a = argmax] + eps softmax(q / T)_a, checked over 40k trials per setting.
TEST_F(AttentionGated, ExplorationFollowsTheMaxBoltzmannDistribution) {
  const std::vector<float> values{0.5f, 1.0f, -0.3f, 0.2f};
  const int trials = 40000;
  Tensor q({trials, 4}), labels({trials}), tags({trials, 4});
  for (int b = 0; b < trials; ++b) std::copy(values.begin(), values.end(), q.data() + b * 4);
  for (ExplorationPolicy policy : {ExplorationPolicy{0.3f, 1.0f}, ExplorationPolicy{1.0f, 0.5f}}) {
    GateOutputs gate;
    backend->attention_gate(q, labels, policy, 77, 5, gate, tags);
    double total = 0;
    for (float v : values) total += std::exp(v / policy.temperature);
    for (int a = 0; a < 4; ++a) {
      const double expected =
          (1 - policy.epsilon) * (a == 1) + policy.epsilon * std::exp(values[a] / policy.temperature) / total;
      const double observed = static_cast<double>(std::count(gate.actions.values().begin(), gate.actions.values().end(),
                                                             static_cast<float>(a))) /
                              static_cast<double>(trials);
      // 5 standard errors of a binomial proportion: fails by chance about once in 3 million runs.
      EXPECT_NEAR(observed, expected, 5 * std::sqrt(expected * (1 - expected) / trials) + 1e-9)
          << "action " << a << " eps " << policy.epsilon;
    }
  }
}

// The expected update over exploration: the mean of many single-trial updates equals
// sum_a P(a) * (backprop gradient of 1/2 (r - Z_a)^2), with weights held fixed.
TEST_F(AttentionGated, ExpectedUpdateOverExplorationMatchesItsFormula) {
  const char* text = "[[layer]]\ntype=\"dense\"\nunits=5\nactivation=\"tanh\"\n";
  auto net = build_network({"tiny", "tiny", text}, {3}, 3, 4, *backend);
  const float epsilon = 0.6f;
  auto brainprop = rule("brainprop", epsilon);
  brainprop->attach(*net, *backend, 8);
  const Batch trial{Tensor::from({1, 3}, std::vector<float>{0.4f, -1.0f, 0.7f}),
                    Tensor::from({1}, std::vector<float>{2})};
  Parameter& w = *net->parameters()[0];
  Tensor mean(w.grad.shape());
  const int steps = 20000;
  for (int s = 0; s < steps; ++s) {
    brainprop->step(*net, trial, *backend);
    backend->axpy(1.0f / steps, w.grad, mean);
  }
  const Tensor z = net->forward(*backend, trial.inputs).clone();
  const int greedy = static_cast<int>(std::max_element(z.data(), z.data() + 3) - z.data());
  double total = 0;
  for (int a = 0; a < 3; ++a) total += std::exp(z.at(static_cast<size_t>(a)));
  Tensor expected(w.grad.shape());
  for (int a = 0; a < 3; ++a) {
    const double p = (1 - epsilon) * (a == greedy) + epsilon * std::exp(z.at(static_cast<size_t>(a))) / total;
    const auto grads =
        backprop_of_chosen_units(*net, *backend, trial, Tensor::from({1}, std::vector<float>{static_cast<float>(a)}));
    backend->axpy(static_cast<float>(p), grads[0], expected);
  }
  double scale = 0;
  for (float v : expected.values()) scale = std::max(scale, std::abs(static_cast<double>(v)));
  for (size_t j = 0; j < expected.numel(); ++j) EXPECT_NEAR(mean.at(j), expected.at(j), 0.03 * scale) << j;
}

TEST_F(AttentionGated, BadOptionsAreClearErrors) {
  Options options("x.toml [rule_options]");
  options.set("epsilon", 1.5);
  EXPECT_THROW(make_rule("brainprop", options), Error);
  Options feedback("x.toml [rule_options]");
  feedback.set("feedback", std::string("learned"));
  EXPECT_THROW(make_rule("qagrel", feedback), Error);
}

// The presets' default exploration rates (with no options given): brainprop explores 2% of trials (the
// authors' reference code), qagrel 5%. Measured through the rule itself: a readout with zero weights
// values every action at 0, so the greedy choice is action 0 and an exploring trial samples the uniform
// softmax; only trials that chose the label (9) are rewarded, and each moves W's row 9 by 1/N (times
// the hidden unit's activity, 1).
TEST_F(AttentionGated, PresetsExploreAtTheirDefaultRates) {
  const int trials = 200000;
  for (const auto& [name, epsilon] : {std::pair<std::string, double>{"brainprop", 0.02}, {"qagrel", 0.05}}) {
    auto net = build_network({"one", "one.toml", "[[layer]]\ntype = \"dense\"\nunits = 1\nactivation = \"relu\"\n"},
                             Shape({1}), 10, 1, *backend);
    for (Parameter* p : net->parameters()) backend->fill(p->value, 0.0f);  // biases too, if any
    auto& hidden = dynamic_cast<WeightedLayer&>(net->layer(0));
    backend->fill(hidden.weights().value, 1.0f);  // the hidden unit's activity: 1 on every trial
    Parameter& w = dynamic_cast<WeightedLayer&>(net->layer(net->size() - 1)).weights();  // the readout
    Options defaults;
    auto preset = make_rule(name, defaults);
    preset->attach(*net, *backend, 3);
    Batch batch{Tensor({trials, 1}), Tensor({trials})};
    backend->fill(batch.inputs, 1.0f);
    backend->fill(batch.labels, 9.0f);
    preset->step(*net, batch, *backend);
    // dW_9 = -(1/N) sum over trials that chose 9 of their RPE (1 - 0): minus the share of such trials.
    const double chose_label = -w.grad.at(9);
    const double expected = epsilon / 10;
    EXPECT_NEAR(chose_label, expected, 5 * std::sqrt(expected / trials)) << name;
  }
}

TEST_F(AttentionGated, BrainPropLearnsAFashionMnistSubsetWellAboveChance) {
  Options options;
  options.set("epsilon", 0.02);
  const double accuracy = testing::fashion_subset_accuracy("brainprop", options, {3000, 128, 6, 0.01});
  EXPECT_GT(accuracy, 0.55) << "10 classes: chance is 0.10";
}

}  // namespace
}  // namespace bioprop
