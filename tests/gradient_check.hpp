#pragma once
// Finite-difference checks (reused by every layer and loss test). The probe loss is
// L = sum_i r_i * y_i with a fixed random r, so dL/dy = r. L is summed in double: outputs that a
// perturbation does not touch are bitwise equal in L(+eps) and L(-eps) and cancel exactly, which
// keeps float32 rounding out of the difference quotient.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "bioprop/backend.hpp"
#include "bioprop/error.hpp"
#include "bioprop/layers.hpp"

namespace bioprop::testing {

inline Tensor random_tensor(Backend& backend, const Shape& shape, uint64_t seed, float stddev = 1.0f) {
  Tensor t(shape);
  backend.random_normal(t, 0.0f, stddev, seed, 0);
  return t;
}

inline double probe_loss(const Tensor& y, const Tensor& r) {
  double sum = 0;
  for (size_t i = 0; i < y.numel(); ++i) sum += static_cast<double>(y.at(i)) * r.at(i);
  return sum;
}

// Compares analytic[i] with the central difference of loss() when values[i] moves by +-eps, for up
// to `samples` indexes spread over the tensor.
inline void expect_matches_finite_differences(const std::string& what, Tensor& values, const Tensor& analytic,
                                              const std::function<double()>& loss, float eps = 1e-2f,
                                              size_t samples = 120) {
  ASSERT_EQ(values.numel(), analytic.numel()) << what;
  const size_t n = values.numel(), step = std::max<size_t>(1, n / samples);
  double worst = 0;
  for (size_t i = 0; i < n; i += step) {
    const float saved = values.at(i);
    values.at(i) = saved + eps;
    const double plus = loss();
    values.at(i) = saved - eps;
    const double minus = loss();
    values.at(i) = saved;
    const double numeric = (plus - minus) / (2.0 * eps), exact = analytic.at(i);
    const double error = std::abs(numeric - exact) / (1e-2 + std::max(std::abs(numeric), std::abs(exact)));
    worst = std::max(worst, error);
    EXPECT_LT(error, 1e-2) << what << " at index " << i << ": analytic " << exact << ", numeric " << numeric;
  }
  ::testing::Test::RecordProperty(what + " worst relative error", std::to_string(worst));
}

// Checks backward_data and weight_grad of `layer` (built here) on a random input of `input` shape.
// `away_from_kinks` moves inputs at least 0.05 away from 0 (ReLU's kink) before checking.
inline void check_layer(Backend& backend, Layer& layer, const Shape& input, bool away_from_kinks = false) {
  Initializer init{InitKind::normal, 0.5f, 7};
  const Shape output = layer.build(input, 0, init, backend);
  Tensor x = random_tensor(backend, input, 11);
  if (away_from_kinks)
    for (float& v : x.values()) v = v >= 0 ? v + 0.05f : v - 0.05f;
  for (Parameter* p : layer.parameters())
    if (p->name.ends_with("bias")) backend.random_normal(p->value, 0.0f, 0.5f, 13, 0);
  const Tensor r = random_tensor(backend, output, 17);
  Tensor y(output), dx(input);
  auto loss = [&] {
    layer.forward(backend, x, y);
    return probe_loss(y, r);
  };
  loss();
  layer.backward_data(backend, x, y, r, dx);
  expect_matches_finite_differences(layer.kind() + " backward_data", x, dx, loss);
  loss();  // forward on the restored input again: batch norm keeps the statistics of its last forward pass
  layer.weight_grad(backend, x, r, 0.0f);
  for (Parameter* p : layer.parameters()) {
    const Tensor grad = p->grad.clone();
    expect_matches_finite_differences(p->name, p->value, grad, loss);
    // beta = 1 accumulates: a second call doubles the gradient.
    layer.weight_grad(backend, x, r, 1.0f);
    for (size_t i = 0; i < grad.numel(); i += std::max<size_t>(1, grad.numel() / 50))
      EXPECT_NEAR(p->grad.at(i), 2 * grad.at(i), 1e-4 + 1e-4 * std::abs(grad.at(i))) << p->name << " beta=1";
    layer.weight_grad(backend, x, r, 0.0f);
  }
  // backward() does both at once (batch norm shares its sums between them): the same results, and
  // beta = 1 accumulates there too.
  loss();
  layer.weight_grad(backend, x, r, 0.0f);
  layer.backward_data(backend, x, y, r, dx);
  std::vector<Tensor> separate;
  for (Parameter* p : layer.parameters()) separate.push_back(p->grad.clone());
  Tensor dx_together(input);
  layer.backward(backend, x, y, r, &dx_together, 0.0f);
  layer.backward(backend, x, y, r, &dx_together, 1.0f);
  for (size_t i = 0; i < dx.numel(); ++i) EXPECT_NEAR(dx_together.at(i), dx.at(i), 1e-6f) << "backward() dx at " << i;
  const auto parameters = layer.parameters();
  for (size_t k = 0; k < parameters.size(); ++k)
    for (size_t i = 0; i < separate[k].numel(); ++i)
      EXPECT_NEAR(parameters[k]->grad.at(i), 2 * separate[k].at(i), 1e-4 + 1e-4 * std::abs(separate[k].at(i)))
          << "backward() " << parameters[k]->name << " at " << i;
}

}  // namespace bioprop::testing
