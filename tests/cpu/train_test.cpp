// End to end: bp learns real Fashion-MNIST images, the epoch loop writes its files atomically,
// checkpoints round-trip, and a diverging run stops with a clear error.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <csignal>
#include <thread>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "bioprop/config.hpp"
#include "bioprop/error.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/stop_request.hpp"
#include "bioprop/trainer.hpp"
#include "error_message.hpp"
#include "gradient_check.hpp"
#include "stop_signal.hpp"

namespace bioprop {
namespace {

namespace fs = std::filesystem;

const char* small_mlp = "[[layer]]\ntype = \"dense\"\nunits = 64\nactivation = \"relu\"\n";

class Training : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    DataRequest request;
    request.train_limit = 2000;
    request.seed = 3;
    data = new DataSplits(load_dataset(request));  // the Debian package's real Fashion-MNIST files
  }
  static void TearDownTestSuite() { delete data; }
  void SetUp() override {
    folder = fs::temp_directory_path() /
             ("bioprop-train-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(folder);
  }
  void TearDown() override { fs::remove_all(folder); }

  std::unique_ptr<Network> mlp() {
    return build_network({"mlp", "mlp.toml", small_mlp}, data->train.sample_shape(), 10, 5, *backend);
  }
  TrainSettings settings(int epochs) {
    TrainSettings s;
    s.epochs = epochs;
    s.batch_size = 32;
    s.show_progress = false;
    s.run_folder = folder.string();
    s.record = {{"net_toml", small_mlp}};
    return s;
  }

  static DataSplits* data;
  std::unique_ptr<Backend> backend = make_cpu_backend();
  fs::path folder;
};
DataSplits* Training::data = nullptr;

TEST_F(Training, BackpropLearnsAFashionMnistSubsetWellAboveChance) {
  auto net = mlp();
  Options rule_options, optimizer_options;
  optimizer_options.set("learning_rate", 0.01);
  auto rule = make_rule("bp", rule_options);
  auto sgd = make_optimizer("sgd", optimizer_options);
  const double before = evaluate(*net, data->test, *backend, 256).accuracy;
  TrainSettings s = settings(5);
  s.target_accuracy = 0.6;
  const TrainSummary summary = train(*net, *rule, *sgd, *data, *backend, s);
  EXPECT_LT(before, 0.25);
  EXPECT_GT(summary.final_test_accuracy, 0.70) << "10 classes: chance is 0.10";
  EXPECT_GE(summary.epochs_to_target, 1);
  EXPECT_LT(summary.epochs.back().train_loss, summary.epochs.front().train_loss);
}

TEST_F(Training, WritesMetricsSummaryAndACheckpointThatRoundTrips) {
  auto net = mlp();
  Options rule_options, optimizer_options;
  auto rule = make_rule("bp", rule_options);
  auto adam = make_optimizer("adam", optimizer_options);
  const TrainSummary summary = train(*net, *rule, *adam, *data, *backend, settings(2));
  std::ifstream csv(folder / "metrics.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("epoch,train_loss,train_accuracy", 0), 0u);
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 2);
  EXPECT_TRUE(fs::exists(folder / "metrics.jsonl"));
  EXPECT_TRUE(fs::exists(folder / "summary.json"));
  EXPECT_TRUE(fs::exists(folder / "accuracy.gp"));  // the plot's script; the PNG needs gnuplot installed
  if (std::system("command -v gnuplot > /dev/null 2>&1") == 0) {
    EXPECT_GT(fs::file_size(folder / "accuracy.png"), 0u);
  }
  for (const auto& entry : fs::directory_iterator(folder)) EXPECT_NE(entry.path().extension(), ".tmp");

  const std::string checkpoint = (folder / "checkpoint.bin").string();
  const nlohmann::json record = read_checkpoint_record(checkpoint);
  EXPECT_EQ(record.at("epoch"), 2);
  auto restored = build_network({"mlp", "saved", record.at("net_toml")}, data->train.sample_shape(), 10, 99, *backend);
  EXPECT_NE(evaluate(*restored, data->test, *backend, 500).accuracy, summary.final_test_accuracy);
  load_checkpoint_weights(checkpoint, *restored, *backend);
  EXPECT_DOUBLE_EQ(evaluate(*restored, data->test, *backend, 500).accuracy, summary.final_test_accuracy);
}

// --alignment: alignment.csv holds one row per epoch and one column per layer and angle (B's too where the
// rule has one), and alignment.gp draws it.
TEST_F(Training, AlignmentIsWrittenPerEpochAndPlotted) {
  auto net = mlp();
  Options rule_options, optimizer_options;
  auto rule = make_rule("fa", rule_options);
  auto sgd = make_optimizer("sgd", optimizer_options);
  TrainSettings s = settings(2);
  s.alignment = true;
  train(*net, *rule, *sgd, *data, *backend, s);
  std::ifstream csv(folder / "alignment.csv");
  std::string header, line;
  std::getline(csv, header);
  const std::vector<int> weighted = net->weighted_layers();
  std::string expected = "epoch";
  for (int i : weighted) expected += fmt::format(",layer{0}_update_vs_bp,layer{0}_B_vs_W", i);
  EXPECT_EQ(header, expected);
  int rows = 0;
  while (std::getline(csv, line)) {
    ++rows;
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), static_cast<long>(2 * weighted.size())) << line;
  }
  EXPECT_EQ(rows, 2);
  EXPECT_TRUE(fs::exists(folder / "alignment.gp"));
  if (std::system("command -v gnuplot > /dev/null 2>&1") == 0) {
    EXPECT_GT(fs::file_size(folder / "alignment.png"), 0u);
  }
}

TEST_F(Training, CorruptCheckpointsAreRejected) {
  fs::create_directories(folder);
  auto net = mlp();
  const std::string path = (folder / "c.bin").string();
  save_checkpoint(path, *net, *backend, {{"net_toml", small_mlp}});
  const auto size = fs::file_size(path);
  fs::resize_file(path, size - 8);
  EXPECT_THROW(load_checkpoint_weights(path, *net, *backend), Error);
  auto other = build_network({"other", "o", "[[layer]]\ntype=\"dense\"\nunits=3\n"}, data->train.sample_shape(), 10, 1,
                             *backend);
  save_checkpoint(path, *net, *backend, {});
  EXPECT_THROW(load_checkpoint_weights(path, *other, *backend), Error);
}

// Checkpoints (format version 3) end in a CRC32 (zlib): one flipped bit anywhere is refused as damage, and a
// checkpoint of another format version is refused naming both versions.
TEST_F(Training, CheckpointsCarryAVersionAndAChecksum) {
  fs::create_directories(folder);
  auto net = mlp();
  const std::string path = (folder / "v.bin").string();
  save_checkpoint(path, *net, *backend, {{"net_toml", small_mlp}});
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_EQ(bytes.substr(0, 15), "BIOPROP-CKPT-3\n");
  const auto write = [&](const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  };
  const auto message = [&] {
    try {
      load_checkpoint_weights(path, *net, *backend);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  std::string damaged = bytes;
  damaged[bytes.size() / 2] = static_cast<char>(damaged[bytes.size() / 2] ^ 0x10);  // inside the weights
  write(damaged);
  EXPECT_NE(message().find("bad checksum"), std::string::npos) << message();
  std::string old_version = bytes;
  old_version[13] = '2';  // version 2 had no random-stream positions
  write(old_version);
  EXPECT_NE(message().find("checkpoint format version 2; this bioprop reads version 3 only"), std::string::npos)
      << message();
  write(bytes);
  EXPECT_EQ(message(), "accepted");
}

// A process killed (SIGKILL) while it writes a checkpoint leaves the previous one whole: checkpoints go
// to a temporary file that is renamed over the old one only when complete (issue 12, item 8).
TEST_F(Training, AKillDuringACheckpointWriteLeavesThePreviousOneReadable) {
  fs::create_directories(folder);
  const std::string path = (folder / "killed.bin").string();
  auto big = build_network({"big", "big", "[[layer]]\ntype = \"dense\"\nunits = 4000\n"}, data->train.sample_shape(),
                           10, 5, *backend);  // 13 MB of weights
  save_checkpoint(path, *big, *backend, {{"generation", 0}});
  // Kill a writer at staggered moments until one kill lands inside a write (the temporary file is there). On a
  // fast file system (tmpfs) the write is a small part of each save (serialising and checksumming are most of
  // it): 20 attempts all missed it in one of three CI runs, so up to 100, which end at the first that lands.
  bool landed_inside_a_write = false;
  for (int attempt = 0; attempt < 100 && !landed_inside_a_write; ++attempt) {
    fs::remove(path + ".tmp");
    const pid_t writer = fork();
    ASSERT_GE(writer, 0);
    if (writer == 0) {  // the child rewrites the checkpoint until it is killed
      for (int generation = 1;; ++generation) save_checkpoint(path, *big, *backend, {{"generation", generation}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + 37 * (attempt % 20)));
    ASSERT_EQ(kill(writer, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(writer, &status, 0), writer);
    ASSERT_TRUE(WIFSIGNALED(status));
    landed_inside_a_write = fs::exists(path + ".tmp");
    ASSERT_NO_THROW(load_checkpoint_weights(path, *big, *backend)) << "attempt " << attempt;
  }
  EXPECT_TRUE(landed_inside_a_write) << "no kill landed during a write: the test proved nothing";
  EXPECT_NO_THROW(load_checkpoint_weights(path, *big, *backend));  // whole: the checksum holds
  EXPECT_GE(read_checkpoint_record(path).at("generation").get<int>(), 0);
}

TEST_F(Training, DivergingRunStopsWithAClearError) {
  auto net = mlp();
  Options rule_options, optimizer_options;
  optimizer_options.set("learning_rate", 1e3);
  rule_options.set("loss", std::string("mse"));  // squared error grows with the outputs: the run blows up
  auto rule = make_rule("bp", rule_options);
  auto sgd = make_optimizer("sgd", optimizer_options);
  try {
    train(*net, *rule, *sgd, *data, *backend, settings(2));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the run diverged; lower the learning rate"), std::string::npos) << e.what();
  }
}

// The whole bp pass through a small conv net equals finite differences of the network's loss.
TEST_F(Training, NetworkBackwardMatchesFiniteDifferencesOfTheLoss) {
  const char* text =
      "[[layer]]\ntype=\"conv2d\"\nchannels=3\nkernel=3\nstride=2\npadding=1\nactivation=\"tanh\"\n"
      "[[layer]]\ntype=\"avg_pool2d\"\nkernel=2\n"
      "[[layer]]\ntype=\"locally_connected2d\"\nchannels=2\nkernel=2\nactivation=\"sigmoid\"\n"
      "[[layer]]\ntype=\"dense\"\nunits=6\nactivation=\"softplus\"\n";
  auto net = build_network({"t", "t", text}, {2, 9, 9}, 4, 2, *backend);
  const Tensor x = testing::random_tensor(*backend, {3, 2, 9, 9}, 8);
  const Tensor labels = Tensor::from({3}, std::vector<float>{0, 3, 1});
  for (Loss loss : {Loss::cross_entropy, Loss::mean_squared_error}) {
    auto value = [&] {
      net->forward(*backend, x);
      return static_cast<double>(compute_loss(*backend, loss, *net, labels));
    };
    value();
    net->backward(*backend, Pathway::forward_weights);
    for (Parameter* p : net->parameters()) {
      const Tensor grad = p->grad.clone();
      testing::expect_matches_finite_differences(p->name + " " + to_string(loss), p->value, grad, value, 1e-2f, 30);
    }
  }
}

}  // namespace
}  // namespace bioprop

namespace bioprop {
namespace {

std::unique_ptr<Optimizer> plain_sgd(double learning_rate) {
  Options options;
  options.set("learning_rate", learning_rate);
  options.set("momentum", 0.0);
  return make_optimizer("sgd", options);
}

TEST_F(Training, LearningRateStepsDownEveryNEpochs) {
  auto net = mlp();
  Options rule_options;
  auto rule = make_rule("bp", rule_options);
  auto sgd = plain_sgd(0.08);
  TrainSettings s = settings(5);
  s.lr_step_epochs = 2;
  s.lr_step_factor = 0.5;
  train(*net, *rule, *sgd, *data, *backend, s);
  EXPECT_FLOAT_EQ(sgd->learning_rate(), 0.08f * 0.25f);  // epochs 1-2: 0.08, 3-4: 0.04, 5: 0.02
}

TEST_F(Training, StopsEarlyWhenAccuracyNoLongerGains) {
  auto net = mlp();
  Options rule_options;
  auto rule = make_rule("bp", rule_options);
  auto sgd = plain_sgd(1e-12);  // the net does not change, so neither does its accuracy
  TrainSettings s = settings(10);
  s.patience = 2;
  const TrainSummary summary = train(*net, *rule, *sgd, *data, *backend, s);
  EXPECT_TRUE(summary.stopped_early);
  EXPECT_EQ(summary.epochs.size(), 3u);  // epoch 1 sets the best; 2 and 3 do not beat it by 0.001
}

// Two epochs, a checkpoint, and one more epoch from it give the weights of three epochs in one go, bit
// for bit, also with SGD momentum and Adam: their velocities, moments and step count are in the
// checkpoint (issue 12, item 7).
TEST_F(Training, ResumingFromACheckpointContinuesTheSameRun) {
  Options rule_options;
  auto rule = make_rule("bp", rule_options);
  const std::vector<std::pair<std::string, std::function<std::unique_ptr<Optimizer>()>>> optimizers{
      {"plain sgd", [] { return plain_sgd(0.02); }},
      {"sgd with momentum",
       [] {
         Options o;
         o.set("learning_rate", 0.02);
         o.set("momentum", 0.9);
         return make_optimizer("sgd", o);
       }},
      {"adam", [] {
         Options o;
         o.set("learning_rate", 1e-3);
         return make_optimizer("adam", o);
       }}};
  for (const auto& [what, make] : optimizers) {
    auto straight = mlp();
    train(*straight, *rule, *make(), *data, *backend, settings(3));
    auto interrupted = mlp();
    TrainSettings first = settings(2);
    first.record["rule"] = "bp";
    first.checkpoint = (folder / "after-2.bin").string();
    train(*interrupted, *rule, *make(), *data, *backend, first);
    auto resumed = mlp();
    TrainSettings second = settings(3);
    second.resume = first.checkpoint;
    second.checkpoint = (folder / "after-3.bin").string();
    const TrainSummary summary = train(*resumed, *rule, *make(), *data, *backend, second);
    ASSERT_EQ(summary.epochs.size(), 3u);  // epochs 1 and 2 from the checkpoint's record
    EXPECT_EQ(summary.epochs[2].epoch, 3);
    const auto expected = straight->parameters(), actual = resumed->parameters();
    ASSERT_EQ(expected.size(), actual.size());
    for (size_t p = 0; p < expected.size(); ++p)
      for (size_t i = 0; i < expected[p]->value.numel(); ++i)
        ASSERT_EQ(actual[p]->value.at(i), expected[p]->value.at(i)) << what << ": " << expected[p]->name << " at " << i;
  }
  TrainSettings first = settings(2);
  first.checkpoint = (folder / "after-2.bin").string();
  auto sgd = plain_sgd(0.02);

  auto other = make_rule("fa", rule_options);
  TrainSettings wrong = settings(3);
  wrong.resume = first.checkpoint;
  EXPECT_EQ(testing::error_of([&] { train(*mlp(), *other, *sgd, *data, *backend, wrong); }),
            first.checkpoint + ": written by rule 'bp', this run uses 'fa'; resume with the same rule and net");
  wrong.resume = first.checkpoint;
  wrong.epochs = 2;
  EXPECT_EQ(testing::error_of([&] { train(*mlp(), *rule, *sgd, *data, *backend, wrong); }),
            first.checkpoint + " was written after epoch 2: ask for more epochs to continue it (--epochs 3 or more)");
}

const char* noisy_mlp =
    "[[layer]]\ntype = \"dense\"\nunits = 32\nactivation = \"tanh\"\n[[layer]]\ntype = \"dropout\"\nrate = 0.3\n";

std::unique_ptr<Optimizer> sgd_with_momentum() {
  Options o;
  o.set("learning_rate", 0.05);
  o.set("momentum", 0.9);
  return make_optimizer("sgd", o);
}

std::unique_ptr<Optimizer> adam() {
  Options o;
  o.set("learning_rate", 1e-3);
  return make_optimizer("adam", o);
}

// A run stopped mid-epoch (here by the step limit, which takes the path of Ctrl-C) and resumed from its
// checkpoint ends with the weights of a run that never stopped, bit for bit, on a net whose every step
// draws random numbers: dropout masks, activity and signal noise, update noise, and the rule's own
// draws (wp's perturbations, BrainProp's exploration, the inverse-training noise of target propagation,
// with its inverses and their optimiser saved as the rule's own parameters). Before the streams' positions were saved,
// the resumed run drew the masks of step 0 again (issue 12, item 7).
TEST_F(Training, ResumingMidEpochContinuesBitForBitWithEveryRandomStream) {
  const std::vector<std::tuple<std::string, std::string, std::function<std::unique_ptr<Optimizer>()>>> cases{
      {"wp", "adam", adam},
      {"brainprop", "sgd with momentum", sgd_with_momentum},
      {"bp", "adam", adam},
      {"ao_sdtp", "adam", adam}};  // a learned output inverse, its own Adam and noise, fixed auxiliary units
  const int batches_per_epoch = 2000 / 32 + 1;
  for (const auto& [rule_name, optimizer_name, make] : cases) {
    SCOPED_TRACE(rule_name + " with " + optimizer_name);
    const auto net = [&] {
      return build_network({"noisy", "noisy.toml", noisy_mlp}, data->train.sample_shape(), 10, 5, *backend);
    };
    const auto noisy = [&](int epochs) {
      TrainSettings s = settings(epochs);
      s.record["rule"] = rule_name;
      s.noise = {0.05f, 0.1f, 0};
      s.update_noise = 0.1f;
      return s;
    };
    Options options;
    auto rule = make_rule(rule_name, options);
    auto straight = net();
    const TrainSummary whole = train(*straight, *rule, *make(), *data, *backend, noisy(2));
    ASSERT_FALSE(whole.interrupted);

    auto stopped = net();
    TrainSettings first = noisy(2);
    first.checkpoint = (folder / "stopped.bin").string();
    first.stop_after_steps = batches_per_epoch + 17;  // in epoch 2, after its 17th batch
    auto rule_before = make_rule(rule_name, options);
    const TrainSummary part = train(*stopped, *rule_before, *make(), *data, *backend, first);
    ASSERT_TRUE(part.interrupted);
    EXPECT_EQ(part.stopped_at_epoch, 2);
    EXPECT_EQ(part.batches_done, 17);
    EXPECT_EQ(part.checkpoint, first.checkpoint);

    auto resumed = net();
    TrainSettings second = noisy(2);
    second.resume = first.checkpoint;
    second.checkpoint = (folder / "resumed.bin").string();
    auto rule_after = make_rule(rule_name, options);
    const TrainSummary rest = train(*resumed, *rule_after, *make(), *data, *backend, second);
    ASSERT_FALSE(rest.interrupted);
    ASSERT_EQ(rest.epochs.size(), 2u);  // epoch 1's metrics come back from the checkpoint
    EXPECT_EQ(rest.epochs[0].train_loss, whole.epochs[0].train_loss);
    EXPECT_EQ(rest.epochs[1].train_loss, whole.epochs[1].train_loss);  // the epoch's sums were saved too
    EXPECT_EQ(rest.final_test_accuracy, whole.final_test_accuracy);
    const auto expected = straight->parameters(), actual = resumed->parameters();
    ASSERT_EQ(expected.size(), actual.size());
    for (size_t p = 0; p < expected.size(); ++p)
      for (size_t i = 0; i < expected[p]->value.numel(); ++i)
        ASSERT_EQ(actual[p]->value.at(i), expected[p]->value.at(i)) << expected[p]->name << " at " << i;
  }
}

// The first SIGINT or SIGTERM while training only asks for a stop: the step finishes, a checkpoint is
// written and train() returns interrupted, naming the signal (issue 12, item 8).
TEST_F(Training, ASignalStopsTheRunAfterTheCurrentStepWithACheckpoint) {
  auto net = mlp();
  Options rule_options;
  auto rule = make_rule("bp", rule_options);
  TrainSettings s = settings(2);
  s.checkpoint = (folder / "stopped.bin").string();
  const StopOnSignals handlers;
  ASSERT_TRUE(testing::send_stop_signal(SIGTERM));  // recorded before the first step: the process lives on
  const TrainSummary summary = train(*net, *rule, *plain_sgd(0.02), *data, *backend, s);
  EXPECT_TRUE(summary.interrupted);
  EXPECT_EQ(summary.stop_signal, SIGTERM);
  EXPECT_EQ(summary.stopped_at_epoch, 1);
  EXPECT_EQ(summary.batches_done, 1);
  const nlohmann::json record = read_checkpoint_record(s.checkpoint);
  EXPECT_EQ(record["run_state"]["batches_done"], 1);
  EXPECT_EQ(record["epoch"], 0);
  clear_stop_request();
}

// A second signal ends the process at once, with status 128 + signal.
TEST(StopOnSignals, ASecondSignalExitsAtOnce) {
  EXPECT_EXIT(
      {
        const StopOnSignals handlers;
        testing::send_stop_signal(SIGINT);
        kill(getpid(), SIGINT);
        std::this_thread::sleep_for(std::chrono::seconds(5));  // the listener thread exits meanwhile
        std::_Exit(0);                                         // not reached
      },
      ::testing::ExitedWithCode(128 + SIGINT), "signal again to quit at once");
}

}  // namespace
}  // namespace bioprop
