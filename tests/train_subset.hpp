#pragma once
// Trains a one-hidden-layer net with `rule` on a subset of the real Fashion-MNIST (Debian's files)
// and returns the final test accuracy: the "learns above chance" check of every rule.
#include "bioprop/config.hpp"
#include "bioprop/optimizer.hpp"
#include "bioprop/rule.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop::testing {

struct SubsetRun {
  int train_images = 2000;
  int hidden_units = 64;
  int epochs = 3;
  double learning_rate = 0.01;  // SGD with the default momentum 0.9
};

inline double fashion_subset_accuracy(const std::string& rule_name, Options rule_options, const SubsetRun& run) {
  DataRequest request;
  request.train_limit = run.train_images;
  const DataSplits data = load_dataset(request);
  auto backend = make_cpu_backend();
  const std::string net =
      "[[layer]]\ntype = \"dense\"\nunits = " + std::to_string(run.hidden_units) + "\nactivation = \"relu\"\n";
  auto network = build_network({"mlp", "mlp", net}, data.train.sample_shape(), 10, 5, *backend);
  auto rule = make_rule(rule_name, rule_options);
  Options optimizer_options;
  optimizer_options.set("learning_rate", run.learning_rate);
  auto sgd = make_optimizer("sgd", optimizer_options);
  TrainSettings settings;
  settings.epochs = run.epochs;
  settings.batch_size = 32;
  settings.show_progress = false;
  return train(*network, *rule, *sgd, data, *backend, settings).final_test_accuracy;
}

}  // namespace bioprop::testing
