// CpuBackend: batch normalisation, one channel per OpenMP iteration for the statistics and sums.
#include <array>
#include <cstddef>

#include "bioprop/batch_norm_math.hpp"
#include "bioprop/bias_layout.hpp"
#include "cpu_backend.hpp"

namespace bioprop {

namespace {
// The channel layout of x for per-channel tensors of `channels` values (the bias broadcast layout).
struct ChannelLayout {
  ChannelLayout(const Tensor& x, const Tensor& per_channel)
      : inner(bias_broadcast_inner(x, per_channel)),
        channels(per_channel.numel()),
        batch(static_cast<size_t>(x.dim(0))),
        total(x.numel()) {}
  // The K sums of terms(index) (an array of K doubles) over the values of channel c, in one pass over
  // memory. Eight interleaved partial sums each, added up in a fixed order at the end: their additions
  // are independent, so the CPU overlaps them, where one running sum waited for each addition's result
  // (the statistics were then a twentieth of the deep net's step). The order depends only on the shape:
  // results stay deterministic.
  template <size_t K, typename Terms>
  std::array<double, K> sums(size_t c, Terms terms) const {
    constexpr size_t lanes = 8;
    std::array<std::array<double, K>, lanes> partial{};
    const auto add = [&](size_t lane, size_t i) {
      const std::array<double, K> values = terms(i);
      for (size_t k = 0; k < K; ++k) partial[lane][k] += values[k];
    };
    for (size_t n = 0; n < batch; ++n) {
      const size_t first = (n * channels + c) * inner;
      size_t i = 0;
      for (; i + lanes <= inner; i += lanes)
        for (size_t lane = 0; lane < lanes; ++lane) add(lane, first + i + lane);
      for (; i < inner; ++i) add(i % lanes, first + i);
    }
    std::array<double, K> total_sums{};
    for (const auto& p : partial)
      for (size_t k = 0; k < K; ++k) total_sums[k] += p[k];
    return total_sums;
  }
  template <typename Term>
  double sum(size_t c, Term term) const {
    return sums<1>(c, [&](size_t i) { return std::array<double, 1>{term(i)}; })[0];
  }
  size_t inner, channels, batch, total;
};
}  // namespace

void CpuBackend::batch_norm_statistics(const Tensor& x, Tensor& mean, Tensor& variance) {
  const ChannelLayout layout(x, mean);
  expect_shape(variance, mean.shape(), "batch_norm_statistics variance");
  const float* in = x.data();
  const double count = static_cast<double>(layout.batch * layout.inner);
#pragma omp parallel for if (layout.total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < layout.channels; ++c) {
    const double mu = layout.sum(c, [&](size_t i) { return static_cast<double>(in[i]); }) / count;
    // Two passes: no cancellation when |mean| >> std.
    const double squares = layout.sum(c, [&](size_t i) { return (in[i] - mu) * (in[i] - mu); });
    mean.at(c) = static_cast<float>(mu);
    variance.at(c) = static_cast<float>(squares / count);
  }
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
    for (size_t i = first; i < first + layout.inner; ++i) out[i] = in[i] * scale + shift;
  }
}

void CpuBackend::batch_norm_sums(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& variance,
                                 float epsilon, float accumulate, Tensor& sum_dy_xhat, Tensor& sum_dy) {
  const ChannelLayout layout(x, mean);
  expect_shape(dy, x.shape(), "batch_norm_sums dy");
  const float *in = x.data(), *d = dy.data();
#pragma omp parallel for if (layout.total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < layout.channels; ++c) {
    const float mu = mean.at(c), inv_std = batch_norm_inv_std(variance.at(c), epsilon);
    const auto [with_xhat, plain] = layout.sums<2>(c, [&](size_t i) {
      return std::array<double, 2>{static_cast<double>(d[i]) * ((in[i] - mu) * inv_std), static_cast<double>(d[i])};
    });
    sum_dy_xhat.at(c) = accumulate * sum_dy_xhat.at(c) + static_cast<float>(with_xhat);
    sum_dy.at(c) = accumulate * sum_dy.at(c) + static_cast<float>(plain);
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
    const float inv_std = batch_norm_inv_std(var[c], epsilon);
    for (size_t i = first; i < first + layout.inner; ++i)
      out[i] = batch_norm_input_grad(d[i], (in[i] - mu[c]) * inv_std, g[c] * inv_std, s_dy[c], s_xhat[c], inv_count);
  }
}

}  // namespace bioprop
