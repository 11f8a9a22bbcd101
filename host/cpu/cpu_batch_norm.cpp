// CpuBackend: batch normalisation, one channel per OpenMP iteration for the statistics and sums.
#include <array>
#include <cstddef>
#include <tuple>
#include <utility>

#include "bioprop/batch_norm_math.hpp"
#include "bioprop/bias_layout.hpp"
#include "cpu_backend.hpp"

namespace bioprop {

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// Vector clones without contraction into FMA: every clone adds and multiplies as the plain x86-64 build does,
// so the statistics are the same bits on every machine.
#define BIOPROP_SUM_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=off")))
#else
#define BIOPROP_SUM_CLONES
#endif

// Eight interleaved partial sums per quantity: element i of a row goes to partial sum i mod 8, so the
// additions of one row are eight independent chains (one running sum waited for each addition's result: the
// statistics were then a twentieth of the deep net's step), and they are one vector of doubles. The order
// depends only on the shape: results stay deterministic.
constexpr size_t lanes = 8;
using Partial = std::array<double, lanes>;

BIOPROP_SUM_CLONES void add_values(const float* row, size_t count, double* partial) {
  size_t i = 0;
  for (; i + lanes <= count; i += lanes)
    for (size_t lane = 0; lane < lanes; ++lane) partial[lane] += static_cast<double>(row[i + lane]);
  for (; i < count; ++i) partial[i % lanes] += static_cast<double>(row[i]);
}

// Two passes (the mean first): no cancellation when |mean| >> std.
BIOPROP_SUM_CLONES void add_squared_deviations(const float* row, size_t count, double mean, double* partial) {
  size_t i = 0;
  for (; i + lanes <= count; i += lanes)
    for (size_t lane = 0; lane < lanes; ++lane) {
      const double deviation = static_cast<double>(row[i + lane]) - mean;
      partial[lane] += deviation * deviation;
    }
  for (; i < count; ++i) {
    const double deviation = static_cast<double>(row[i]) - mean;
    partial[i % lanes] += deviation * deviation;
  }
}

// The backward pass's sums of dy * xhat and of dy, xhat = (x - mean) inv_std rounded to float.
BIOPROP_SUM_CLONES void add_gradient_terms(const float* dy, const float* x, size_t count, float mean, float inv_std,
                                           double* with_xhat, double* plain) {
  size_t i = 0;
  for (; i + lanes <= count; i += lanes)
    for (size_t lane = 0; lane < lanes; ++lane) {
      const float xhat = (x[i + lane] - mean) * inv_std;
      with_xhat[lane] += static_cast<double>(dy[i + lane]) * static_cast<double>(xhat);
      plain[lane] += static_cast<double>(dy[i + lane]);
    }
  for (; i < count; ++i) {
    const float xhat = (x[i] - mean) * inv_std;
    with_xhat[i % lanes] += static_cast<double>(dy[i]) * static_cast<double>(xhat);
    plain[i % lanes] += static_cast<double>(dy[i]);
  }
}

double total(const Partial& partial) {
  double sum = 0;
  for (const double p : partial) sum += p;
  return sum;
}

// The channel layout of x for per-channel tensors of `channels` values (the bias broadcast layout).
struct ChannelLayout {
  ChannelLayout(const Tensor& x, const Tensor& per_channel)
      : inner(bias_broadcast_inner(x, per_channel)),
        channels(per_channel.numel()),
        batch(static_cast<size_t>(x.dim(0))),
        total(x.numel()) {}
  // Where sample n's values of channel c begin.
  size_t first(size_t n, size_t c) const { return (n * channels + c) * inner; }
  size_t inner, channels, batch, total;
  double count() const { return static_cast<double>(batch * inner); }
};

// Channel c's mean and biased variance, rounded to float.
std::pair<float, float> channel_statistics(const float* in, const ChannelLayout& layout, size_t c) {
  Partial values{}, squares{};
  for (size_t n = 0; n < layout.batch; ++n) add_values(in + layout.first(n, c), layout.inner, values.data());
  const double mu = total(values) / layout.count();
  for (size_t n = 0; n < layout.batch; ++n)
    add_squared_deviations(in + layout.first(n, c), layout.inner, mu, squares.data());
  return {static_cast<float>(mu), static_cast<float>(total(squares) / layout.count())};
}

// One row of y = gamma * xhat + beta, as scale * x + shift.
void normalise_row(const float* in, float* out, size_t count, float scale, float shift) {
  for (size_t i = 0; i < count; ++i) out[i] = in[i] * scale + shift;
}

// Channel c's sums of dy * xhat and of dy, rounded to float.
std::pair<float, float> channel_gradient_sums(const float* d, const float* in, const ChannelLayout& layout, size_t c,
                                              float mean, float inv_std) {
  Partial with_xhat{}, plain{};
  for (size_t n = 0; n < layout.batch; ++n)
    add_gradient_terms(d + layout.first(n, c), in + layout.first(n, c), layout.inner, mean, inv_std, with_xhat.data(),
                       plain.data());
  return {static_cast<float>(total(with_xhat)), static_cast<float>(total(plain))};
}

// What one channel's rows of dx need.
struct InputGradient {
  float mean, inv_std, gamma, sum_dy, sum_dy_xhat, inv_count;
  void row(const float* d, const float* in, float* out, size_t count) const {
    for (size_t i = 0; i < count; ++i)
      out[i] = batch_norm_input_grad(d[i], (in[i] - mean) * inv_std, gamma * inv_std, sum_dy, sum_dy_xhat, inv_count);
  }
};
}  // namespace

void CpuBackend::batch_norm_statistics(const Tensor& x, Tensor& mean, Tensor& variance) {
  const ChannelLayout layout(x, mean);
  expect_shape(variance, mean.shape(), "batch_norm_statistics variance");
  const float* in = x.data();
#pragma omp parallel for if (layout.total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < layout.channels; ++c) std::tie(mean.at(c), variance.at(c)) = channel_statistics(in, layout, c);
}

void CpuBackend::batch_norm_forward(const Tensor& x, const Tensor& mean, const Tensor& variance, float epsilon,
                                    const Tensor& gamma, const Tensor& beta, Tensor& y) {
  const ChannelLayout layout(x, mean);
  expect_shape(y, x.shape(), "batch_norm_forward output");
  const float *in = x.data(), *g = gamma.data(), *b = beta.data(), *mu = mean.data(), *var = variance.data();
  float* out = y.data();
  const auto blocks = static_cast<std::ptrdiff_t>(layout.batch * layout.channels);
#pragma omp parallel for if (layout.total > parallel_threshold) schedule(static)
  for (std::ptrdiff_t block = 0; block < blocks; ++block) {
    const size_t c = static_cast<size_t>(block) % layout.channels, first = static_cast<size_t>(block) * layout.inner;
    const float scale = g[c] * batch_norm_inv_std(var[c], epsilon), shift = b[c] - mu[c] * scale;
    normalise_row(in + first, out + first, layout.inner, scale, shift);
  }
}

// Statistics and output channel by channel: the normalising pass reads the channel's values from cache.
void CpuBackend::batch_norm_training_forward(const Tensor& x, float epsilon, const Tensor& gamma, const Tensor& beta,
                                             Tensor& mean, Tensor& variance, Tensor& y) {
  const ChannelLayout layout(x, mean);
  expect_shape(variance, mean.shape(), "batch_norm_training_forward variance");
  expect_shape(y, x.shape(), "batch_norm_training_forward output");
  const float *in = x.data(), *g = gamma.data(), *b = beta.data();
  float* out = y.data();
#pragma omp parallel for if (layout.total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < layout.channels; ++c) {
    const auto [mu, var] = channel_statistics(in, layout, c);
    mean.at(c) = mu, variance.at(c) = var;
    const float scale = g[c] * batch_norm_inv_std(var, epsilon), shift = b[c] - mu * scale;
    for (size_t n = 0; n < layout.batch; ++n)
      normalise_row(in + layout.first(n, c), out + layout.first(n, c), layout.inner, scale, shift);
  }
}

void CpuBackend::batch_norm_sums(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& variance,
                                 float epsilon, float accumulate, Tensor& sum_dy_xhat, Tensor& sum_dy) {
  const ChannelLayout layout(x, mean);
  expect_shape(dy, x.shape(), "batch_norm_sums dy");
  const float *in = x.data(), *d = dy.data();
#pragma omp parallel for if (layout.total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < layout.channels; ++c) {
    const auto [with_xhat, plain] =
        channel_gradient_sums(d, in, layout, c, mean.at(c), batch_norm_inv_std(variance.at(c), epsilon));
    sum_dy_xhat.at(c) = accumulate * sum_dy_xhat.at(c) + with_xhat;
    sum_dy.at(c) = accumulate * sum_dy.at(c) + plain;
  }
}

void CpuBackend::batch_norm_backward_data(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& variance,
                                          float epsilon, const Tensor& gamma, const Tensor& sum_dy_xhat,
                                          const Tensor& sum_dy, Tensor& dx) {
  const ChannelLayout layout(x, mean);
  expect_shape(dx, x.shape(), "batch_norm_backward_data dx");
  const float *in = x.data(), *d = dy.data(), *g = gamma.data(), *mu = mean.data(), *var = variance.data();
  const float *s_xhat = sum_dy_xhat.data(), *s_dy = sum_dy.data();
  float* out = dx.data();
  const float inv_count = 1.0f / static_cast<float>(layout.batch * layout.inner);
  const auto blocks = static_cast<std::ptrdiff_t>(layout.batch * layout.channels);
#pragma omp parallel for if (layout.total > parallel_threshold) schedule(static)
  for (std::ptrdiff_t block = 0; block < blocks; ++block) {
    const size_t c = static_cast<size_t>(block) % layout.channels, first = static_cast<size_t>(block) * layout.inner;
    const InputGradient gradient{mu[c], batch_norm_inv_std(var[c], epsilon), g[c], s_dy[c], s_xhat[c], inv_count};
    gradient.row(d + first, in + first, out + first, layout.inner);
  }
}

// Sums and dx channel by channel: the second pass reads the channel's dy and x from cache.
void CpuBackend::batch_norm_training_backward(const Tensor& dy, const Tensor& x, const Tensor& mean,
                                              const Tensor& variance, float epsilon, const Tensor& gamma,
                                              Tensor& sum_dy_xhat, Tensor& sum_dy, Tensor& dx) {
  const ChannelLayout layout(x, mean);
  expect_shape(dy, x.shape(), "batch_norm_training_backward dy");
  expect_shape(dx, x.shape(), "batch_norm_training_backward dx");
  const float *in = x.data(), *d = dy.data(), *g = gamma.data();
  float* out = dx.data();
  const float inv_count = 1.0f / static_cast<float>(layout.batch * layout.inner);
#pragma omp parallel for if (layout.total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < layout.channels; ++c) {
    const float mu = mean.at(c), inv_std = batch_norm_inv_std(variance.at(c), epsilon);
    const auto [with_xhat, plain] = channel_gradient_sums(d, in, layout, c, mu, inv_std);
    sum_dy_xhat.at(c) = with_xhat, sum_dy.at(c) = plain;
    const InputGradient gradient{mu, inv_std, g[c], plain, with_xhat, inv_count};
    for (size_t n = 0; n < layout.batch; ++n) {
      const size_t first = layout.first(n, c);
      gradient.row(d + first, in + first, out + first, layout.inner);
    }
  }
}

}  // namespace bioprop
