// CpuBackend: dense algebra, element-wise operations, losses and optimiser steps.
#include "cpu_backend.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "bioprop/activation_math.hpp"
#include "bioprop/bias_layout.hpp"
#include "bioprop/error.hpp"
#include "bioprop/fused_math.hpp"
#include "bioprop/projection_checks.hpp"
#include "bioprop/rng.hpp"
#include "fma_clones.hpp"
#include "philox_fill.hpp"
#include "sgemm.hpp"

namespace bioprop {

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

std::string CpuBackend::name() const {
  const char* products = cpu_gemm_in_use() == CpuGemm::onednn ? "oneDNN sgemm" : "OpenBLAS";
  return fmt::format("cpu ({} convolutions, {}, OpenMP)", onednn_ ? "oneDNN" : "im2col", products);
}

float* CpuBackend::scratch(std::vector<float>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

namespace {
int rows(const Tensor& t) { return t.dim(0); }
// Calls body(std::integral_constant<Activation, f>{}) so the element loops inside see f as a constant
// (one plain loop per function, which the compiler vectorises, instead of a switch per element).
template <typename Body>
void for_each_activation(Activation f, Body body) {
  switch (f) {
    case Activation::relu:
      return body(std::integral_constant<Activation, Activation::relu>{});
    case Activation::sigmoid:
      return body(std::integral_constant<Activation, Activation::sigmoid>{});
    case Activation::tanh:
      return body(std::integral_constant<Activation, Activation::tanh>{});
    case Activation::softplus:
      return body(std::integral_constant<Activation, Activation::softplus>{});
  }
}
int cols(const Tensor& t) { return static_cast<int>(t.shape().sample_size()); }
}  // namespace

void CpuBackend::gemm(bool transpose_a, bool transpose_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                      Tensor& c) {
  const int m = transpose_a ? cols(a) : rows(a);
  const int k = transpose_a ? rows(a) : cols(a);
  const int kb = transpose_b ? cols(b) : rows(b);
  const int n = transpose_b ? rows(b) : cols(b);
  if (k != kb || rows(c) != m || cols(c) != n)
    fail("gemm: op(a) {}x{}, op(b) {}x{}, c {}x{} do not fit", m, k, kb, n, rows(c), cols(c));
  if (m == 1) {
    // One row (a batch of one: online learning, the segregated-dendrite simulation's every millisecond): a
    // matrix-vector product. sgemm would first pack all of b, which then costs as much as the product itself.
    if (transpose_b)  // c = b a, b (n, k)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, alpha, b.data(), k, a.data(), 1, beta, c.data(), 1);
    else  // c = b^T a, b (k, n)
      cblas_sgemv(CblasRowMajor, CblasTrans, k, n, alpha, b.data(), n, a.data(), 1, beta, c.data(), 1);
    return;
  }
  sgemm(transpose_a, transpose_b, m, n, k, alpha, a.data(), cols(a), b.data(), cols(b), beta, c.data(), cols(c));
}

void CpuBackend::add_bias(Tensor& y, const Tensor& bias) {
  const size_t inner = bias_broadcast_inner(y, bias), count = bias.numel(), total = y.numel();
  float* out = y.data();
  const float* b = bias.data();
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t i = 0; i < total; ++i) out[i] += b[(i / inner) % count];
}

void CpuBackend::bias_grad(const Tensor& dy, float beta, Tensor& dbias) {
  const size_t inner = bias_broadcast_inner(dy, dbias), count = dbias.numel();
  const size_t batch = static_cast<size_t>(dy.dim(0));
  const float* d = dy.data();
  float* out = dbias.data();
#pragma omp parallel for if (count * batch * inner > parallel_threshold) schedule(static)
  for (size_t j = 0; j < count; ++j) {
    double sum = 0;
    for (size_t n = 0; n < batch; ++n) {
      const float* block = d + (n * count + j) * inner;
      for (size_t i = 0; i < inner; ++i) sum += block[i];
    }
    out[j] = beta * out[j] + static_cast<float>(sum);
  }
}

void CpuBackend::activation_forward(Activation f, const Tensor& a, Tensor& h) {
  expect_same_size(a, h, "activation_forward");
  const size_t total = a.numel();
  const float* in = a.data();
  float* out = h.data();
  for_each_activation(f, [&](auto function) {
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
    for (size_t i = 0; i < total; ++i) out[i] = activate(function, in[i]);
  });
}

void CpuBackend::activation_backward(Activation f, const Tensor& a, const Tensor& h, const Tensor& dh, Tensor& da) {
  expect_same_size(a, dh, "activation_backward");
  const size_t total = a.numel();
  const float *in = a.data(), *out = h.data(), *grad_out = dh.data();
  float* grad_in = da.data();
  for_each_activation(f, [&](auto function) {
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
    for (size_t i = 0; i < total; ++i) grad_in[i] = grad_out[i] * activation_derivative(function, in[i], out[i]);
  });
}

void CpuBackend::fill(Tensor& x, float value) { std::fill_n(x.data(), x.numel(), value); }

void CpuBackend::copy(const Tensor& from, Tensor& to) {
  expect_same_size(from, to, "copy");
  // In slices, one per thread: one core does not reach the memory's bandwidth (a symmetric feedback matrix's
  // gradient, 16 MiB on the conv net, is copied every step).
  const size_t total = from.numel(), slice = 1u << 16;
  const float* in = from.data();
  float* out = to.data();
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t first = 0; first < total; first += slice)
    std::copy_n(in + first, std::min(slice, total - first), out + first);
}

void CpuBackend::axpy(float alpha, const Tensor& x, Tensor& y) {
  expect_same_size(x, y, "axpy");
  cblas_saxpy(static_cast<int>(x.numel()), alpha, x.data(), 1, y.data(), 1);
}

void CpuBackend::scale(float alpha, Tensor& x) { cblas_sscal(static_cast<int>(x.numel()), alpha, x.data(), 1); }

// The element loops whose arithmetic rounds with fmaf(), each compiled with and without FMA.
namespace {
BIOPROP_WITH_AND_WITHOUT_FMA void noise_elements(float* values, size_t total, float stddev, uint64_t seed,
                                                 uint64_t offset) {
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < philox_chunks(total); ++c)
    for_each_element_of_philox_chunk(c, total, seed, offset, [&](size_t i, const PhiloxBlock& words, unsigned lane) {
      values[i] = apply_noise(values[i], normal_from_block(words, lane), stddev);
    });
}
BIOPROP_WITH_AND_WITHOUT_FMA void uniform_elements(float* out, size_t total, float low, float high, uint64_t seed,
                                                   uint64_t offset) {
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < philox_chunks(total); ++c)
    for_each_element_of_philox_chunk(c, total, seed, offset, [&](size_t i, const PhiloxBlock& words, unsigned lane) {
      out[i] = scale_uniform(uniform_from_bits(words[lane]), low, high);
    });
}
BIOPROP_WITH_AND_WITHOUT_FMA void normal_elements(float* out, size_t total, float mean, float stddev, uint64_t seed,
                                                  uint64_t offset) {
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < philox_chunks(total); ++c)
    for_each_element_of_philox_chunk(c, total, seed, offset, [&](size_t i, const PhiloxBlock& words, unsigned lane) {
      out[i] = scale_normal(normal_from_block(words, lane), mean, stddev);
    });
}
BIOPROP_WITH_AND_WITHOUT_FMA void linear_combination_elements(float alpha, const float* a, float beta, const float* b,
                                                              float gamma, const float* c, float* result,
                                                              size_t total) {
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t i = 0; i < total; ++i) result[i] = linear_combination_of(alpha, a[i], beta, b[i], gamma, c[i]);
}
BIOPROP_WITH_AND_WITHOUT_FMA void sgd_elements(float* w, float* v, const float* g, size_t total, SgdSettings s) {
  // v = momentum * v + (g + weight_decay * w);  w -= lr * v   (PyTorch's SGD convention)
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t i = 0; i < total; ++i) sgd_update(w[i], v[i], g[i], s.learning_rate, s.momentum, s.weight_decay);
}
BIOPROP_WITH_AND_WITHOUT_FMA void adam_elements(float* w, float* m, float* v, const float* g, size_t total,
                                                AdamSettings s, float step_size, float epsilon_hat) {
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t i = 0; i < total; ++i)
    adam_update(w[i], m[i], v[i], g[i], s.beta1, s.beta2, s.weight_decay, step_size, epsilon_hat);
}
}  // namespace

void CpuBackend::multiply_by_noise(Tensor& x, float stddev, uint64_t seed, uint64_t offset) {
  noise_elements(x.data(), x.numel(), stddev, seed, offset);
}

namespace {
void dropout_elements(float* values, size_t total, float rate, float keep, uint64_t seed, uint64_t offset) {
  // A loop of its own over each chunk's words in element order, vectorised without a branch: with one
  // per element on a coin flip, mispredictions made these masks a tenth of the conv net's step.
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < philox_chunks(total); ++c) {
    PhiloxChunk chunk;
    compute_philox_chunk(seed, offset + c * philox_chunk_blocks, chunk);
    const size_t first = c * philox_chunk_elements, count = std::min(philox_chunk_elements, total - first);
    for (size_t e = 0; e < count; ++e) values[first + e] = uniform_from_bits(chunk.words[e]) >= rate ? keep : 0.0f;
  }
}
}  // namespace

void CpuBackend::dropout_mask(Tensor& mask, float rate, uint64_t seed, uint64_t offset, uint64_t first) {
  const float keep = 1.0f / (1.0f - rate);
  draw_from_element(
      mask.numel(), offset, first,
      [&](size_t e, uint64_t index) { mask.at(e) = philox_uniform(seed, offset, index) >= rate ? keep : 0.0f; },
      [&](size_t e0, size_t count, uint64_t block) {
        dropout_elements(mask.data() + e0, count, rate, keep, seed, block);
      });
}

void CpuBackend::linear_combination(float alpha, const Tensor& x, float beta, const Tensor& y, float gamma,
                                    const Tensor& z, Tensor& out) {
  for (const Tensor* t : {&y, &z, static_cast<const Tensor*>(&out)}) expect_same_size(x, *t, "linear_combination");
  linear_combination_elements(alpha, x.data(), beta, y.data(), gamma, z.data(), out.data(), x.numel());
}

void CpuBackend::multiply(const Tensor& a, const Tensor& b, Tensor& out) {
  expect_same_size(a, b, "multiply");
  expect_same_size(a, out, "multiply");
  const float *x = a.data(), *y = b.data();
  float* result = out.data();
  const size_t total = a.numel();
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t i = 0; i < total; ++i) result[i] = x[i] * y[i];
}

void CpuBackend::clamp_to_signs(Tensor& w, const Tensor& signs) {
  expect_same_size(w, signs, "clamp_to_signs");
  float* values = w.data();
  const float* s = signs.data();
  const size_t total = w.numel();
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t i = 0; i < total; ++i)
    values[i] = s[i] > 0 ? std::max(values[i], 0.0f) : (s[i] < 0 ? std::min(values[i], 0.0f) : values[i]);
}

void CpuBackend::sign(const Tensor& x, float scale, Tensor& out) {
  expect_same_size(x, out, "sign");
  const size_t total = x.numel();
  const float* in = x.data();
  float* result = out.data();
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t i = 0; i < total; ++i) result[i] = in[i] > 0.0f ? scale : (in[i] < 0.0f ? -scale : 0.0f);
}

double CpuBackend::sum_of_squares(const Tensor& x) {
  const size_t total = x.numel();
  const float* in = x.data();
  double sum = 0.0;
#pragma omp parallel for reduction(+ : sum) if (total > parallel_threshold) schedule(static)
  for (size_t i = 0; i < total; ++i) sum += static_cast<double>(in[i]) * in[i];
  return sum;
}

double CpuBackend::dot(const Tensor& a, const Tensor& b) {
  expect_same_size(a, b, "dot");
  const size_t total = a.numel();
  const float *x = a.data(), *y = b.data();
  double sum = 0.0;
#pragma omp parallel for reduction(+ : sum) if (total > parallel_threshold) schedule(static)
  for (size_t i = 0; i < total; ++i) sum += static_cast<double>(x[i]) * y[i];
  return sum;
}

void CpuBackend::project_feedback(const Tensor& e, const Tensor& projection,
                                  const std::vector<ProjectionSlice>& slices) {
  check_projection_slices(e, projection, slices);
  const int batch = rows(e), classes = cols(e), width = cols(projection);
  float* product = scratch(product_, static_cast<size_t>(batch) * width);
  sgemm(false, false, batch, width, classes, 1.0f, e.data(), classes, projection.data(), width, 0.0f, product, width);
  for (const ProjectionSlice& s : slices) {
    const size_t features = s.out->shape().sample_size();
    float* out = s.out->data();
#pragma omp parallel for if (static_cast <size_t>(batch) * features > parallel_threshold) schedule(static)
    for (int n = 0; n < batch; ++n)
      for (size_t j = 0; j < features; ++j) {
        const size_t at = static_cast<size_t>(n) * features + j;
        const float v = product[static_cast<size_t>(n) * width + s.first_column + j];
        out[at] = s.derivative ? v * activation_derivative(s.f, s.pre->at(at), s.post->at(at)) : v;
      }
  }
}

void CpuBackend::random_uniform(Tensor& x, float low, float high, uint64_t seed, uint64_t offset) {
  uniform_elements(x.data(), x.numel(), low, high, seed, offset);
}

void CpuBackend::random_normal(Tensor& x, float mean, float stddev, uint64_t seed, uint64_t offset, uint64_t first) {
  draw_from_element(
      x.numel(), offset, first,
      [&](size_t e, uint64_t index) { x.at(e) = scale_normal(philox_normal(seed, offset, index), mean, stddev); },
      [&](size_t e0, size_t count, uint64_t block) {
        normal_elements(x.data() + e0, count, mean, stddev, seed, block);
      });
}

namespace {
int label_at(const Tensor& labels, int n, int classes) {
  const float value = labels.data()[n];
  const int label = static_cast<int>(value);
  if (label < 0 || label >= classes || static_cast<float>(label) != value)
    fail("label {} of sample {} is not a class index in [0, {})", value, n, classes);
  return label;
}
}  // namespace

float CpuBackend::softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& dlogits) {
  expect_same_size(logits, dlogits, "softmax_cross_entropy");
  const int batch = rows(logits), classes = cols(logits);
  trial_losses_.assign(static_cast<size_t>(batch), 0.0f);
  double total = 0;
  for (int n = 0; n < batch; ++n) {
    const float* z = logits.data() + static_cast<size_t>(n) * classes;
    float* dz = dlogits.data() + static_cast<size_t>(n) * classes;
    const int label = label_at(labels, n, classes);
    // Subtracting the max keeps exp() finite; log-sum-exp gives the loss without log(0).
    const float top = *std::max_element(z, z + classes);
    double sum = 0;
    for (int k = 0; k < classes; ++k) sum += std::exp(static_cast<double>(z[k] - top));
    const double loss = std::log(sum) - (z[label] - top);
    trial_losses_[static_cast<size_t>(n)] = static_cast<float>(loss);
    total += loss;
    for (int k = 0; k < classes; ++k)
      dz[k] = static_cast<float>((std::exp(static_cast<double>(z[k] - top)) / sum - (k == label)) / batch);
  }
  return static_cast<float>(total / batch);
}

float CpuBackend::mean_squared_error(const Tensor& outputs, const Tensor& labels, Tensor& doutputs) {
  expect_same_size(outputs, doutputs, "mean_squared_error");
  const int batch = rows(outputs), classes = cols(outputs);
  trial_losses_.assign(static_cast<size_t>(batch), 0.0f);
  double total = 0;
  for (int n = 0; n < batch; ++n) {
    const int label = label_at(labels, n, classes);
    double trial = 0;
    for (int k = 0; k < classes; ++k) {
      const size_t i = static_cast<size_t>(n) * classes + k;
      const float error = outputs.data()[i] - (k == label ? 1.0f : 0.0f);
      trial += 0.5 * error * error;
      doutputs.data()[i] = error / static_cast<float>(batch);
    }
    trial_losses_[static_cast<size_t>(n)] = static_cast<float>(trial);
    total += trial;
  }
  return static_cast<float>(total / batch);
}

float CpuBackend::regression_error(const Tensor& outputs, const Tensor& targets, Tensor& doutputs) {
  const int batch = rows(outputs);
  if (cols(outputs) != 1 || targets.numel() != static_cast<size_t>(batch))
    fail("regression_error: outputs {} and {} targets: a regression net has one output per trial",
         outputs.shape().str(), targets.numel());
  trial_losses_.assign(static_cast<size_t>(batch), 0.0f);
  double total = 0;
  for (int n = 0; n < batch; ++n) {
    const float error = outputs.data()[n] - targets.data()[n];
    trial_losses_[static_cast<size_t>(n)] = 0.5f * error * error;
    total += 0.5 * static_cast<double>(error) * error;
    doutputs.data()[n] = error / static_cast<float>(batch);
  }
  return static_cast<float>(total / batch);
}

void CpuBackend::trial_losses(Tensor& losses) {
  losses.resize({static_cast<int>(trial_losses_.size())}, Device::cpu);
  std::copy(trial_losses_.begin(), trial_losses_.end(), losses.data());
}

int CpuBackend::count_correct(const Tensor& outputs, const Tensor& labels) {
  const int batch = rows(outputs), classes = cols(outputs);
  int correct = 0;
  for (int n = 0; n < batch; ++n) {
    const float* y = outputs.data() + static_cast<size_t>(n) * classes;
    correct += static_cast<int>(std::max_element(y, y + classes) - y) == label_at(labels, n, classes);
  }
  return correct;
}

void CpuBackend::sgd_step(Tensor& weights, const Tensor& grad, Tensor& velocity, const SgdSettings& s) {
  expect_same_size(weights, grad, "sgd_step");
  expect_same_size(weights, velocity, "sgd_step");
  sgd_elements(weights.data(), velocity.data(), grad.data(), weights.numel(), s);
}

void CpuBackend::adam_step(Tensor& weights, const Tensor& grad, Tensor& first_moment, Tensor& second_moment,
                           const AdamSettings& s, int step) {
  expect_same_size(weights, grad, "adam_step");
  // Kingma & Ba 2015, Algorithm 1, with the bias corrections folded into the step size.
  const float correction1 = 1.0f - std::pow(s.beta1, static_cast<float>(step));
  const float correction2 = 1.0f - std::pow(s.beta2, static_cast<float>(step));
  const float step_size = s.learning_rate * std::sqrt(correction2) / correction1;
  const float epsilon_hat = s.epsilon * std::sqrt(correction2);
  adam_elements(weights.data(), first_moment.data(), second_moment.data(), grad.data(), weights.numel(), s, step_size,
                epsilon_hat);
}

}  // namespace bioprop
