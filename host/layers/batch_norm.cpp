// Batch normalisation (Ioffe & Szegedy 2015): per channel (conv, locally connected) or per feature
// (dense), y = gamma * (x - mean) / sqrt(var + epsilon) + beta. While training it normalises with the
// batch's statistics and keeps running averages, as Keras does (running = momentum * running +
// (1 - momentum) * batch, biased batch variance); in evaluation it uses the running averages.
// gamma and beta are parameters; the running statistics are state saved with checkpoints. In a data-parallel
// job with synchronised statistics (--sync-batch-norm, as PyTorch's SyncBatchNorm) the batch's statistics and
// the backward pass's sums are those of the global batch, summed over the ranks.
#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "bioprop/distributed.hpp"
#include "bioprop/error.hpp"
#include "bioprop/layers.hpp"

namespace bioprop {
namespace {

class BatchNorm final : public Layer {
 public:
  BatchNorm(float momentum, float epsilon) : momentum_(momentum), epsilon_(epsilon) {
    if (!(momentum >= 0.0f && momentum < 1.0f)) fail("batch_norm: momentum must be in [0, 1), got {}", momentum);
    if (!(epsilon > 0.0f)) fail("batch_norm: epsilon must be > 0, got {}", epsilon);
  }
  std::string kind() const override { return "batch_norm"; }
  std::string settings() const override { return fmt::format("momentum {} eps {}", momentum_, epsilon_); }

  Shape build(const Shape& input, int index, const Initializer&, Backend& backend) override {
    if (input.rank() != 2 && input.rank() != 4)
      fail("batch_norm: expects (N,F) or (N,C,H,W) inputs, got {}", input.str());
    const Shape channels{input[1]};
    const Device device = backend.device();
    const std::string prefix = "layer" + std::to_string(index) + ".batch_norm";
    gamma_ = {prefix + ".scale", Tensor(channels, device), Tensor(channels, device), false};
    beta_ = {prefix + ".shift", Tensor(channels, device), Tensor(channels, device), false};
    running_mean_ = {prefix + ".running_mean", Tensor(channels, device), Tensor(), false};
    running_variance_ = {prefix + ".running_variance", Tensor(channels, device), Tensor(), false};
    backend.fill(gamma_.value, 1.0f);
    backend.fill(running_variance_.value, 1.0f);
    for (Tensor* t : {&mean_, &variance_, &sum_dy_xhat_, &sum_dy_, &zeros_}) *t = Tensor(channels, device);
    return input;
  }
  Shape output_shape(const Shape& input) const override { return input; }
  void set_training(bool training) override { training_ = training; }
  void set_repeat_draws(bool repeat) override { repeat_ = repeat; }
  void set_hold_statistics(bool hold) override { hold_ = hold; }
  void set_statistics_sync(Communicator* job, double share) override {
    job_ = job && job->size() > 1 ? job : nullptr;
    share_ = share;
  }
  bool mixes_samples() const override { return batch_statistics(); }

  void forward(Backend& backend, const Tensor& x, Tensor& y) override {
    if (!batch_statistics())
      return backend.batch_norm_forward(x, mean(), variance(), epsilon_, gamma_.value, beta_.value, y);
    if (job_) {
      backend.batch_norm_statistics(x, mean_, variance_);
      global_statistics(backend, x.dim(0));
      backend.batch_norm_forward(x, mean_, variance_, epsilon_, gamma_.value, beta_.value, y);
    } else {
      backend.batch_norm_training_forward(x, epsilon_, gamma_.value, beta_.value, mean_, variance_, y);
    }
    if (!repeat_)  // a perturbed pass (WP, NP) leaves the running statistics as the clean pass set them
      for (auto [running, batch] : {std::pair{&running_mean_.value, &mean_}, {&running_variance_.value, &variance_}}) {
        backend.scale(momentum_, *running);
        backend.axpy(1.0f - momentum_, *batch, *running);
      }
  }

  void backward_data(Backend& backend, const Tensor& x, const Tensor&, const Tensor& dy, Tensor& dx, Pathway) override {
    if (!batch_statistics())  // fixed statistics: dx = gamma / sigma * dy
      return backend.batch_norm_backward_data(dy, x, mean(), variance(), epsilon_, gamma_.value, zeros_, zeros_, dx);
    input_gradient(backend, x, dy, dx);
  }

  // dL/dgamma = sum of dy * xhat, dL/dbeta = sum of dy (over the batch and positions).
  void weight_grad(Backend& backend, const Tensor& x, const Tensor& dy, float beta) override {
    backend.batch_norm_sums(dy, x, mean(), variance(), epsilon_, beta, gamma_.grad, beta_.grad);
  }

  // Both gradients from one pass of per-channel sums (while training): the sums are dL/dgamma and
  // dL/dbeta, and backward_data needs them too.
  void backward(Backend& backend, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, float beta,
                Pathway pathway) override {
    if (!dx || !batch_statistics()) return Layer::backward(backend, x, y, dy, dx, beta, pathway);
    input_gradient(backend, x, dy, *dx);
    for (auto [sums, grad] : {std::pair{&sum_dy_xhat_, &gamma_.grad}, {&sum_dy_, &beta_.grad}}) {
      if (beta != 0.0f) {
        backend.scale(beta, *grad);
        backend.axpy(1.0f, *sums, *grad);
      } else {
        backend.copy(*sums, *grad);
      }
    }
  }

  std::vector<Parameter*> parameters() override { return {&gamma_, &beta_}; }
  std::vector<Parameter*> state() override { return {&running_mean_, &running_variance_}; }

 private:
  // This rank's mean and variance of `rows` samples replaced by the global batch's: sums of x and x^2 (per
  // channel, from the rank's mean and variance) and the sample counts, added over the ranks on the host (C
  // values per layer). Every rank then normalises, and updates its running statistics, alike.
  void global_statistics(Backend& backend, int rows) {
    const Tensor mean = backend.to_host(mean_), variance = backend.to_host(variance_);
    const size_t channels = mean.numel();
    std::vector<double> sums(2 * channels + 1);
    for (size_t c = 0; c < channels; ++c) {
      const double m = mean.at(c);
      sums[c] = m * rows;
      sums[channels + c] = (static_cast<double>(variance.at(c)) + m * m) * rows;
    }
    sums[2 * channels] = rows;
    job_->all_reduce_sum(sums.data(), sums.size());
    Tensor global_mean(mean.shape()), global_variance(variance.shape());
    for (size_t c = 0; c < channels; ++c) {
      const double m = sums[c] / sums[2 * channels];
      global_mean.at(c) = static_cast<float>(m);
      global_variance.at(c) = static_cast<float>(std::max(0.0, sums[channels + c] / sums[2 * channels] - m * m));
    }
    backend.copy(backend.to_device(global_mean), mean_);
    backend.copy(backend.to_device(global_variance), variance_);
  }

  // dx through the batch statistics, leaving this rank's sums (dL/dgamma, dL/dbeta) in sum_dy_xhat_ and sum_dy_.
  void input_gradient(Backend& backend, const Tensor& x, const Tensor& dy, Tensor& dx) {
    if (!job_)
      return backend.batch_norm_training_backward(dy, x, mean_, variance_, epsilon_, gamma_.value, sum_dy_xhat_,
                                                  sum_dy_, dx);
    backend.batch_norm_sums(dy, x, mean_, variance_, epsilon_, 0.0f, sum_dy_xhat_, sum_dy_);
    const auto [sum_dy_xhat, sum_dy] = backward_sums(backend);  // gamma's and beta's grads stay this rank's
    backend.batch_norm_backward_data(dy, x, mean_, variance_, epsilon_, gamma_.value, sum_dy_xhat, sum_dy, dx);
  }

  // The per-channel sums dx needs: this rank's, or with synchronised statistics the global batch's. Each rank's
  // dy is of its mean loss; scaled by its share they add up to dy of the global mean loss, and backward_data's
  // division by this rank's count then gives this rank's dx in its own scale (the scale its updates are in).
  std::pair<const Tensor&, const Tensor&> backward_sums(Backend& backend) {
    if (!job_) return {sum_dy_xhat_, sum_dy_};
    for (auto [local, global] : {std::pair{&sum_dy_xhat_, &global_dy_xhat_}, {&sum_dy_, &global_dy_}}) {
      global->resize(local->shape(), backend.device());
      backend.copy(*local, *global);
      backend.scale(static_cast<float>(share_), *global);
    }
    backend.all_reduce_sum({&global_dy_xhat_, &global_dy_}, *job_);
    return {global_dy_xhat_, global_dy_};
  }

  // True while the forward pass computes the batch's statistics (training, not held): the backward pass then
  // carries the gradient through them, and the samples are coupled.
  bool batch_statistics() const { return training_ && !hold_; }
  // The statistics the forward pass normalised with: the batch's while training (held or not), else the running
  // ones.
  const Tensor& mean() const { return training_ ? mean_ : running_mean_.value; }
  const Tensor& variance() const { return training_ ? variance_ : running_variance_.value; }

  float momentum_, epsilon_;
  bool training_ = false, repeat_ = false, hold_ = false;
  Parameter gamma_, beta_, running_mean_, running_variance_;
  Tensor mean_, variance_, sum_dy_xhat_, sum_dy_, zeros_;
  Communicator* job_ = nullptr;  // set: synchronised statistics over its ranks
  double share_ = 1.0;
  Tensor global_dy_xhat_, global_dy_;
};

}  // namespace

std::unique_ptr<Layer> make_batch_norm(float momentum, float epsilon) {
  return std::make_unique<BatchNorm>(momentum, epsilon);
}

}  // namespace bioprop
