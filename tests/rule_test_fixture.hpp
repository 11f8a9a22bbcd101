#pragma once
// What the rule tests share: a CPU backend, nets from TOML text, rules with options, batches of random
// inputs with cycling labels, and the norms and angles their checks measure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

#include "bioprop/backend.hpp"
#include "bioprop/config.hpp"
#include "bioprop/layers.hpp"
#include "bioprop/rule.hpp"
#include "gradient_check.hpp"

namespace bioprop::testing {

class RuleTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend = make_cpu_backend();

  std::unique_ptr<Network> net(const char* text, const Shape& sample, int classes = 4) {
    return build_network({"t", "t", text}, sample, classes, 3, *backend);
  }
  static std::unique_ptr<Rule> rule(const std::string& name,
                                    std::initializer_list<std::pair<const char*, Options::Value>> set = {}) {
    Options options;
    for (const auto& [key, value] : set) options.set(key, value);
    return make_rule(name, options);
  }
  // Random inputs of `shape`; trial i has label i mod classes.
  Batch batch(const Shape& shape, int classes, uint64_t seed = 4) {
    Batch b{random_tensor(*backend, shape, seed), Tensor({shape[0]})};
    for (int i = 0; i < shape[0]; ++i) b.labels.at(static_cast<size_t>(i)) = static_cast<float>(i % classes);
    return b;
  }
  static WeightedLayer& weighted(Network& n, int i) { return dynamic_cast<WeightedLayer&>(n.layer(i)); }
  static double norm(const Tensor& t) {
    double sum = 0;
    for (size_t i = 0; i < t.numel(); ++i) sum += static_cast<double>(t.at(i)) * t.at(i);
    return std::sqrt(sum);
  }
  // The angle between a and b as vectors, in degrees.
  static double angle(const Tensor& a, const Tensor& b) {
    double dot = 0;
    for (size_t i = 0; i < a.numel(); ++i) dot += static_cast<double>(a.at(i)) * b.at(i);
    return std::acos(std::clamp(dot / (norm(a) * norm(b)), -1.0, 1.0)) * 180.0 / 3.14159265358979;
  }
};

}  // namespace bioprop::testing
