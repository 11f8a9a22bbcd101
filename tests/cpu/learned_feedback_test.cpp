// learned_feedback (Lansdell, Prakash, Kording 2019): the node-perturbation estimate is unbiased, B
// learns toward W^T, the update ends closer to bp's than FA's, and the rule learns real images.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "bioprop/config.hpp"
#include "bioprop/error.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/trainer.hpp"
#include "gradient_check.hpp"
#include "rule_test_fixture.hpp"
#include "train_subset.hpp"

namespace bioprop {
namespace {

const char* linear_net = "bias = false\ninit = \"glorot\"\n[[layer]]\ntype=\"dense\"\nunits=6\n";

class LearnedFeedbackTest : public testing::RuleTest {
 protected:
  static WeightedLayer& readout(Network& n) { return weighted(n, n.size() - 1); }
  // The mean over `steps` noisy steps of the readout's B gradient, delta^T (B^T delta - lambda): with
  // B = W it is delta^T (true gradient - E lambda), zero exactly when the estimate is unbiased.
  Tensor mean_feedback_gradient(Network& n, Rule& r, const Batch& b, int steps) {
    Tensor sum(readout(n).feedback().grad.shape());
    for (int s = 0; s < steps; ++s) {
      r.step(n, b, *backend);
      backend->axpy(1.0f / static_cast<float>(steps), readout(n).feedback().grad, sum);
    }
    return sum;
  }
  // The spread over noise draws (mean squared distance from their mean) of the readout's B gradient, over
  // 300 steps on one batch of `trials` with forward weights and B held (feedback_lr 0), the rule's `option`
  // set to `value`; the net in training mode (batch norm with batch statistics).
  double readout_gradient_spread(const char* net_text, const char* option, bool value, int trials) {
    auto n = net(net_text, {5});
    n->set_training(true);
    auto r = rule("learned_feedback", {{"feedback_lr", 0.0}, {"sigma", 1e-2}, {option, value}});
    r->attach(*n, *backend, 1);
    const Batch b = batch({trials, 5}, 4);
    const int steps = 300;
    std::vector<Tensor> grads;
    for (int s = 0; s < steps; ++s) {
      r->step(*n, b, *backend);
      grads.push_back(readout(*n).feedback().grad.clone());
    }
    Tensor mean(grads[0].shape());
    for (const Tensor& g : grads) backend->axpy(1.0f / steps, g, mean);
    double spread = 0;
    for (Tensor& g : grads) {
      backend->axpy(-1.0f, mean, g);
      spread += std::pow(norm(g), 2) / steps;
    }
    return spread;
  }
};

// With B = W the regression's residual is the estimate's error alone: its mean over 4000 draws is under
// 10% of the size of delta^T dL/dh (the gradient's own scale) for a linear hidden layer, while a random B
// leaves a mean residual as large as that scale (so the check can fail).
TEST_F(LearnedFeedbackTest, NodePerturbationEstimateIsUnbiasedForALinearLayer) {
  for (const bool exact : {true, false}) {
    auto n = net(linear_net, {5});
    auto r = rule("learned_feedback", {{"feedback_lr", 0.0}, {"sigma", 1e-2}});
    r->attach(*n, *backend, 1);
    if (exact) backend->copy(readout(*n).weights().value, readout(*n).feedback_weights());
    const Batch b = batch({8, 5}, 4);
    const Tensor mean = mean_feedback_gradient(*n, *r, b, 4000);
    // The scale: N delta^T dL/dh, dL/dh through W (bp), from one bp pass.
    n->forward(*backend, b.inputs);
    compute_loss(*backend, Loss::cross_entropy, *n, b.labels);
    n->backward(*backend, Pathway::forward_weights);
    Tensor scale(mean.shape());
    n->layer(n->size() - 1).weight_grad(*backend, n->gradient(n->size() - 1), n->gradient(n->size()), 0.0f);
    backend->copy(readout(*n).weights().grad, scale);
    backend->scale(8.0f, scale);  // the rule's regression is per trial: N times the mean loss's gradients
    const double relative = norm(mean) / norm(scale);
    if (exact)
      EXPECT_LT(relative, 0.1);
    else
      EXPECT_GT(relative, 0.3);
  }
}

// W's rows with their mean over the outputs removed: softmax cross-entropy's output errors sum to zero
// over the outputs, so B's component along that mean is never seen by the regression.
Tensor centred_rows(const Tensor& w) {
  Tensor c = w.clone();
  const int outputs = w.dim(0), inputs = w.dim(1);
  for (int j = 0; j < inputs; ++j) {
    double mean = 0;
    for (int i = 0; i < outputs; ++i) mean += w.at(static_cast<size_t>(i * inputs + j)) / static_cast<double>(outputs);
    for (int i = 0; i < outputs; ++i) c.at(static_cast<size_t>(i * inputs + j)) -= static_cast<float>(mean);
  }
  return c;
}

// On a linear net whose forward weights are held, B learns toward W (W^T's pathway, stored in W's shape)
// in every direction the output errors reach: from about 90 degrees to under 15.
TEST_F(LearnedFeedbackTest, FeedbackConvergesTowardTheForwardWeights) {
  auto n = net(linear_net, {5});
  auto r = rule("learned_feedback", {{"feedback_lr", 0.03}, {"sigma", 1e-2}});
  r->attach(*n, *backend, 1);
  const auto centred_angle = [&] {
    return angle(centred_rows(readout(*n).feedback_weights()), centred_rows(readout(*n).weights().value));
  };
  const double before = centred_angle();
  for (int s = 0; s < 3000; ++s) r->step(*n, batch({16, 5}, 4, 100 + static_cast<uint64_t>(s)), *backend);
  const double after = centred_angle();
  EXPECT_GT(before, 60.0);
  EXPECT_LT(after, 15.0) << "from " << before;
}

// Same tanh net, seed and data: after training, learned feedback's update of the hidden layer lies closer
// to bp's gradient than FA's does, and the direct variant's closer than DFA's.
TEST_F(LearnedFeedbackTest, UpdateEndsCloserToBackpropThanFeedbackAlignment) {
  const char* tanh_net =
      "init = \"glorot\"\n[[layer]]\ntype=\"dense\"\nunits=16\nactivation=\"tanh\"\n"
      "[[layer]]\ntype=\"dense\"\nunits=12\nactivation=\"tanh\"\n";
  std::map<std::string, double> angles;
  for (const std::string name : {"fa", "learned_feedback", "dfa", "direct"}) {
    auto n = net(tanh_net, {10});
    auto r = name == "fa" || name == "dfa" ? rule(name)
             : name == "direct" ? rule("learned_feedback", {{"feedback_lr", 0.0125}, {"sigma", 1e-2}, {"direct", true}})
                                : rule(name, {{"feedback_lr", 0.0125}, {"sigma", 1e-2}});
    r->attach(*n, *backend, 1);
    Options o;
    o.set("learning_rate", 0.02);
    auto sgd = make_optimizer("sgd", o);
    for (int s = 0; s < 1500; ++s) {
      r->step(*n, batch({16, 10}, 4, 200 + static_cast<uint64_t>(s % 50)), *backend);
      sgd->step(*backend, r->trainable(*n));
    }
    const auto alignment = measure_alignment(*n, *r, batch({64, 10}, 4, 999), *backend);
    angles[name] = alignment[1].update_angle;  // the second hidden layer: B of the readout carries its error
  }
  EXPECT_LT(angles["learned_feedback"], angles["fa"] - 10.0)
      << "learned " << angles["learned_feedback"] << ", fa " << angles["fa"];
  EXPECT_LT(angles["direct"], angles["dfa"] - 10.0)
      << "learned direct " << angles["direct"] << ", dfa " << angles["dfa"];
}

// The B regression's gradient for every layer kind (dense; conv, whose B is a transposed convolution with
// its own kernel; locally connected) against finite differences of 1/2 ||backward_data(dy; B) - target||^2,
// and the layer's own weight and bias grads left as they were.
TEST_F(LearnedFeedbackTest, FeedbackRegressionGradientOfEveryLayerKind) {
  struct Case {
    std::unique_ptr<Layer> layer;
    Shape input;
  };
  std::vector<Case> cases;
  cases.push_back({make_dense(5), Shape{3, 7}});
  cases.push_back({make_conv2d(3, 3, 2, 1), Shape{2, 2, 7, 7}});
  cases.push_back({make_locally_connected2d(3, 3, 1, 0), Shape{2, 2, 6, 6}});
  for (Case& c : cases) {
    auto& layer = dynamic_cast<WeightedLayer&>(*c.layer);
    const Shape output = layer.build(c.input, 0, Initializer{InitKind::normal, 0.5f, 7}, *backend);
    layer.set_feedback_weights(testing::random_tensor(*backend, layer.weights().value.shape(), 8), true);
    const Tensor dy = testing::random_tensor(*backend, output, 9),
                 target = testing::random_tensor(*backend, c.input, 10);
    Tensor dx(c.input), residual(c.input);
    const auto loss = [&] {
      layer.backward_data(*backend, target, Tensor(output), dy, dx, Pathway::feedback_weights);
      double sum = 0;
      for (size_t i = 0; i < dx.numel(); ++i) sum += 0.5 * std::pow(static_cast<double>(dx.at(i) - target.at(i)), 2);
      return sum;
    };
    loss();
    for (size_t i = 0; i < dx.numel(); ++i) residual.at(i) = dx.at(i) - target.at(i);
    backend->fill(layer.weights().grad, 3.0f);
    if (layer.bias()) backend->fill(layer.bias()->grad, 4.0f);
    layer.feedback_weight_grad(*backend, residual, dy);
    const Tensor analytic = layer.feedback().grad.clone();
    testing::expect_matches_finite_differences(layer.kind() + " feedback", layer.feedback_weights(), analytic, loss);
    EXPECT_EQ(layer.weights().grad.at(0), 3.0f) << layer.kind();
    if (layer.bias()) {
      EXPECT_EQ(layer.bias()->grad.at(0), 4.0f) << layer.kind();
    }
  }
}

TEST_F(LearnedFeedbackTest, LearnsAFashionMnistSubsetAboveChance) {
  Options options;
  options.set("feedback_lr", 0.05);
  testing::SubsetRun run;
  EXPECT_GT(testing::fashion_subset_accuracy("learned_feedback", options, run), 0.6);
}

TEST_F(LearnedFeedbackTest, RefusesBadOptions) {
  for (const auto& [key, value] : std::vector<std::pair<const char*, Options::Value>>{
           {"sigma", 0.0}, {"feedback_lr", -1.0}, {"warmup_steps", -1}}) {
    Options o;
    o.set(key, value);
    EXPECT_THROW(make_rule("learned_feedback", o), Error) << key;
  }
}

// Warm-up steps train B only: the forward weights' updates are zero, B's is not.
TEST_F(LearnedFeedbackTest, WarmupTrainsFeedbackOnly) {
  auto n = net(linear_net, {5});
  auto r = rule("learned_feedback", {{"warmup_steps", 2}});
  r->attach(*n, *backend, 1);
  const Batch b = batch({8, 5}, 4);
  for (int s = 0; s < 3; ++s) {
    const Tensor before = readout(*n).feedback_weights().clone();
    r->step(*n, b, *backend);
    double changed = 0;
    for (size_t i = 0; i < before.numel(); ++i)
      changed = std::max(changed, std::abs(static_cast<double>(before.at(i) - readout(*n).feedback_weights().at(i))));
    EXPECT_GT(changed, 0.0) << "step " << s;
    EXPECT_EQ(norm(readout(*n).weights().grad) == 0.0, s < 2) << "step " << s;
  }
}

// A data-parallel job averages over the ranks the rule's matrices its step changes (changed_in_step): every
// matrix a step changes must be among them, and fixed ones (FA's B, DFA's projection) must not cost an
// all-reduce per step.
// On a net with batch norm, holding the clean pass's statistics in the noisy pass keeps each trial's loss
// change its own: B's regression gradient then varies over noise draws several times less than with the
// batch's loss change (which adds every other trial's noise to each estimate; ~N times the variance).
TEST_F(LearnedFeedbackTest, HeldBatchStatisticsKeepTheEstimatePerTrial) {
  const char* with_batch_norm =
      "bias = false\ninit = \"glorot\"\n[[layer]]\ntype=\"dense\"\nunits=6\nactivation=\"tanh\"\n"
      "[[layer]]\ntype=\"batch_norm\"\n";
  std::map<bool, double> spread;
  for (const bool held : {true, false})
    spread[held] = readout_gradient_spread(with_batch_norm, "held_statistics", held, 32);
  EXPECT_GT(spread[false], 5.0 * spread[true]) << "held " << spread[true] << ", batch " << spread[false];
}

// With `each_layer` the readout's estimate sees only the noise of its own input (4 units), not also that of
// the 200-unit layer below: its B gradient varies less over noise draws (2.3x less here; the same noise
// with all layers at once gives 1x, so the check can fail).
TEST_F(LearnedFeedbackTest, NoiseOfEachLayerAloneLowersTheEstimatesVariance) {
  const char* wide_then_narrow =
      "bias = false\ninit = \"glorot\"\n[[layer]]\ntype=\"dense\"\nunits=200\nactivation=\"tanh\"\n"
      "[[layer]]\ntype=\"dense\"\nunits=4\nactivation=\"tanh\"\n";
  std::map<bool, double> spread;
  for (const bool each : {true, false})
    spread[each] = readout_gradient_spread(wide_then_narrow, "each_layer", each, 16);
  EXPECT_GT(spread[false], 1.5 * spread[true]) << "each layer " << spread[true] << ", all at once " << spread[false];
}

// A data-parallel job keeps every rank's copy of a matrix the step changes equal to one process's: the rule sums
// its updates over the ranks inside the step (learned feedback's B and DTP's inverses, with optimisers of their
// own) or names it in changed_in_step (averaged after the step); fixed feedback needs neither.
TEST_F(LearnedFeedbackTest, MatricesAStepChangesAreSummedOrAveragedOverTheRanks) {
  const char* hidden_layers =
      "bias = false\ninit = \"glorot\"\n[[layer]]\ntype=\"dense\"\nunits=6\nactivation=\"tanh\"\n"
      "[[layer]]\ntype=\"dense\"\nunits=6\nactivation=\"tanh\"\n";
  for (const std::string name : {"fa", "dfa", "learned_feedback", "dtp"}) {
    auto n = net(hidden_layers, {5});
    auto r = rule(name, {});
    r->attach(*n, *backend, 1);
    std::vector<Tensor> before;
    for (Parameter* p : r->rule_parameters()) before.push_back(p->value.clone());
    r->step(*n, batch({8, 5}, 4), *backend);
    const std::vector<Parameter*> changed = r->changed_in_step(), all = r->rule_parameters();
    for (size_t i = 0; i < all.size(); ++i) {
      bool moved = false;
      for (size_t k = 0; k < before[i].numel(); ++k) moved = moved || before[i].at(k) != all[i]->value.at(k);
      const bool listed = std::find(changed.begin(), changed.end(), all[i]) != changed.end();
      if (moved) {
        EXPECT_TRUE(listed || r->sums_inside_step())
            << name << ": " << all[i]->name << " changed in the step but is neither summed nor averaged";
      }
    }
    EXPECT_EQ(changed.empty() && !r->sums_inside_step(), name == "fa" || name == "dfa") << name;
  }
}

}  // namespace
}  // namespace bioprop
