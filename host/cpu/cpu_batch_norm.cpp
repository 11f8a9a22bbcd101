// CpuBackend: batch normalisation, one channel per OpenMP iteration for the statistics and sums.
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
  // Visits the values of channel c: f(index).
  template <typename F>
  void for_each(size_t c, F f) const {
    for (size_t n = 0; n < batch; ++n)
      for (size_t i = (n * channels + c) * inner, end = i + inner; i < end; ++i) f(i);
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
    double sum = 0;
    layout.for_each(c, [&](size_t i) { sum += in[i]; });
    const double mu = sum / count;
    double squares = 0;  // two passes: no cancellation when |mean| >> std
    layout.for_each(c, [&](size_t i) { squares += (in[i] - mu) * (in[i] - mu); });
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
    double with_xhat = 0, plain = 0;
    layout.for_each(c, [&](size_t i) {
      with_xhat += static_cast<double>(d[i]) * ((in[i] - mu) * inv_std);
      plain += d[i];
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
