// Net and experiment configuration: the built-in nets, the default file, and every kind of bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "bioprop/config.hpp"
#include "bioprop/error.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rule.hpp"
#include "error_message.hpp"

namespace bioprop {
namespace {

using testing::error_of;

class Config : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend = make_cpu_backend();
  std::unique_ptr<Network> build(const std::string& text, Shape sample = {1, 28, 28}) {
    return build_network({"test", "test.toml", text}, sample, 10, 1, *backend);
  }
};

TEST_F(Config, BuiltInNetsHaveThePapersShapes) {
  struct Expected {
    const char* net;
    std::vector<int> hidden;  // output sizes of the weighted layers
  };
  for (const Expected& e :
       {Expected{"dense", {1500, 1000, 500, 10}}, Expected{"conv", {32 * 28 * 28, 32 * 14 * 14, 500, 10}},
        Expected{"loccon", {32 * 26 * 26, 32 * 12 * 12, 500, 10}},
        Expected{"deep", {64 * 784, 64 * 784, 128 * 196, 128 * 196, 128 * 49, 128 * 49, 128 * 49, 500, 10}}}) {
    auto net = build_network(load_net_source(e.net), {1, 28, 28}, 10, 1, *backend);
    std::vector<int> sizes;
    const Tensor x({2, 1, 28, 28});
    net->forward(*backend, x);
    for (int i = 0; i < net->size(); ++i)
      if (dynamic_cast<WeightedLayer*>(&net->layer(i)))
        sizes.push_back(static_cast<int>(net->activations(i + 1).shape().sample_size()));
    EXPECT_EQ(sizes, e.hidden) << e.net;
    EXPECT_EQ(net->output().shape(), (Shape{2, 10})) << e.net;
  }
}

TEST_F(Config, InputShapesAreInferredFromTheDataset) {
  auto net = build_network(load_net_source("conv"), {3, 32, 32}, 100, 1, *backend);
  net->forward(*backend, Tensor({1, 3, 32, 32}));
  EXPECT_EQ(net->output().shape(), (Shape{1, 100}));
  EXPECT_EQ(net->activations(2).shape(), (Shape{1, 32, 32, 32}));  // "same" padding
}

// Every experiment file that ships in configs/ reads without error, and its rule, net and options
// are ones bioprop knows (a typo in a shipped config would fail only when a user runs it).
TEST_F(Config, EveryShippedExperimentFileIsValid) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(BIOPROP_SOURCE_DIR "/configs")) {
    if (entry.path().extension() != ".toml") continue;
    SCOPED_TRACE(entry.path().string());
    TrainConfig c = load_train_config(entry.path().string());
    Options rule_options = c.rule_options;
    EXPECT_NO_THROW(make_rule(c.rule, rule_options));
    EXPECT_NO_THROW(load_net_source(c.net));
    Options optimizer_options = c.optimizer_options;
    EXPECT_NO_THROW(make_optimizer(c.optimizer, optimizer_options));
    ++files;
  }
  EXPECT_GE(files, 5);
}

TEST_F(Config, DefaultFileMatchesTheBuiltInDefaults) {
  const TrainConfig file = load_train_config(BIOPROP_SOURCE_DIR "/configs/default.toml");
  const TrainConfig defaults;
  EXPECT_EQ(file.rule, defaults.rule);
  EXPECT_EQ(file.net, defaults.net);
  EXPECT_EQ(file.data.name, defaults.data.name);
  EXPECT_EQ(file.epochs, defaults.epochs);
  EXPECT_EQ(file.batch_size, defaults.batch_size);
  EXPECT_EQ(file.seed, defaults.seed);
  EXPECT_EQ(file.target_accuracy, defaults.target_accuracy);
  EXPECT_EQ(file.optimizer, "sgd");
  Options optimizer = file.optimizer_options;
  EXPECT_DOUBLE_EQ(optimizer.get_number("learning_rate", 0), 0.1);
  EXPECT_EQ(file.net_overrides.init, defaults.net_overrides.init);
  EXPECT_EQ(file.net_overrides.init_std, defaults.net_overrides.init_std);
  EXPECT_EQ(file.net_overrides.bias, defaults.net_overrides.bias);
  EXPECT_EQ(file.augmentation.crop_padding, defaults.augmentation.crop_padding);
  EXPECT_EQ(file.augmentation.horizontal_flip, defaults.augmentation.horizontal_flip);
  EXPECT_NO_THROW(make_optimizer(file.optimizer, optimizer));
  Options rule = file.rule_options;
  EXPECT_NO_THROW(make_rule(file.rule, rule));
}

TEST_F(Config, UnknownKeyInExperimentFile) {
  EXPECT_EQ(error_of([] { parse_train_config("epochs = 2\nepoch = 3\n", "x.toml"); }),
            "x.toml: unknown key 'epoch' (line 2)");
}

TEST_F(Config, WrongTypeInExperimentFile) {
  EXPECT_EQ(error_of([] { parse_train_config("batch_size = \"64\"\n", "x.toml"); }),
            "x.toml: field 'batch_size' must be an integer, got the string \"64\" (line 1)");
  EXPECT_EQ(error_of([] { parse_train_config("epochs = 0\n", "x.toml"); }),
            "x.toml: field 'epochs' must be at least 1, got 0");
}

TEST_F(Config, AugmentationKeys) {
  const TrainConfig c = parse_train_config("augment_crop = 4\naugment_flip = true\n", "x.toml");
  EXPECT_EQ(c.augmentation.crop_padding, 4);
  EXPECT_TRUE(c.augmentation.horizontal_flip);
  EXPECT_EQ(error_of([] { parse_train_config("augment_crop = -1\n", "x.toml"); }),
            "x.toml: field 'augment_crop' must be >= 0, got -1");
}

TEST_F(Config, TomlSyntaxErrorNamesLineAndColumn) {
  EXPECT_NE(error_of([] { parse_train_config("epochs = = 3\n", "x.toml"); }).find("x.toml: line 1, column"),
            std::string::npos);
}

TEST_F(Config, UnknownOptimizerOrRuleKey) {
  TrainConfig c = parse_train_config("[optimizer]\nkind = \"sgd\"\nlearning_rat = 0.1\n", "x.toml");
  EXPECT_EQ(error_of([&] { make_optimizer(c.optimizer, c.optimizer_options); }),
            "x.toml [optimizer]: unknown key 'learning_rat'");
  c = parse_train_config("rule = \"bp\"\n[rule_options]\nloss = 3\n", "x.toml");
  EXPECT_EQ(error_of([&] { make_rule(c.rule, c.rule_options); }),
            "x.toml [rule_options]: 'loss' must be a string, got an integer");
}

TEST_F(Config, UnknownKeyInNetLayer) {
  const std::string message = error_of([&] { build("[[layer]]\ntype = \"dense\"\nunits = 5\nunit = 4\n"); });
  EXPECT_EQ(message, "test.toml: [[layer]] #1 (line 1): unknown key 'unit' (line 4)");
}

TEST_F(Config, WrongTypeInNetLayer) {
  const std::string message = error_of([&] { build("[[layer]]\ntype = \"conv2d\"\nchannels = 8\nkernel = 2.5\n"); });
  EXPECT_EQ(message,
            "test.toml: [[layer]] #1 (line 1): field 'kernel' must be an integer, got the number 2.5 (line 4)");
}

TEST_F(Config, DropoutLayers) {
  auto net = build(
      "[[layer]]\ntype = \"dense\"\nunits = 8\nactivation = \"relu\"\n[[layer]]\ntype = \"dropout\"\nrate = 0.3\n");
  EXPECT_EQ(net->layer(2).kind(), "dropout");
  EXPECT_NE(
      error_of([&] { build("[[layer]]\ntype = \"dropout\"\nrate = 1.5\n"); }).find("field 'rate' must be in [0, 1)"),
      std::string::npos);
}

TEST_F(Config, UnknownLayerTypeAndActivation) {
  EXPECT_NE(error_of([&] { build("[[layer]]\ntype = \"convolution\"\n"); }).find("unknown layer type 'convolution'"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              build("[[layer]]\ntype = \"dense\"\nunits = 3\nactivation = \"gelu\"\n");
            }).find("unknown activation 'gelu'"),
            std::string::npos);
}

TEST_F(Config, NetWhoseShapesDoNotFit) {
  // Three stride-2 convolutions shrink 28 -> 13 -> 6 -> 2; a 5x5 kernel then no longer fits.
  const std::string text =
      "[[layer]]\ntype=\"conv2d\"\nchannels=4\nkernel=3\nstride=2\n"
      "[[layer]]\ntype=\"conv2d\"\nchannels=4\nkernel=3\nstride=2\n"
      "[[layer]]\ntype=\"conv2d\"\nchannels=4\nkernel=3\nstride=2\n"
      "[[layer]]\ntype=\"conv2d\"\nchannels=4\nkernel=5\n";
  EXPECT_EQ(error_of([&] { build(text); }),
            "test.toml: layer 3 (conv2d): a 5x5 window (padding 0) does not fit the 2x2 input");
  EXPECT_NE(error_of([&] {
              build("[[layer]]\ntype=\"dense\"\nunits=4\n[[layer]]\ntype=\"conv2d\"\nchannels=2\nkernel=1\n");
            }).find("needs images (N,C,H,W) as input"),
            std::string::npos);
}

TEST_F(Config, UnknownNetName) {
  EXPECT_NE(error_of([] {
              load_net_source("resnet");
            }).find("unknown net 'resnet' (built-in nets: conv, deep, dendrites-deep, dendrites, dense, loccon"),
            std::string::npos);
  EXPECT_EQ(error_of([] { load_net_source("/no/such/net.toml"); }), "cannot open net file /no/such/net.toml");
}

}  // namespace
}  // namespace bioprop
