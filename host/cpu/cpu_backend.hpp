#pragma once
// CpuBackend: the reference implementation of every Backend operation (OpenBLAS sgemm and OpenMP
// loops). Scratch buffers are members that only grow, so a training loop allocates nothing after
// its first batch.
#include <memory>
#include <vector>

#include "bioprop/backend.hpp"
#include "bioprop/operand_checks.hpp"
#include "onednn_convolution.hpp"

namespace bioprop {

// How CpuBackend computes convolutions: oneDNN, Winograd where it measured faster and direct
// elsewhere (the default: docs/performance.md); oneDNN direct only (the exact summation of the
// textbook formula, as im2col); or our im2col + OpenBLAS sgemm (the second implementation that tests
// check oneDNN against).
enum class CpuConvolution { onednn, onednn_direct, im2col };
// BIOPROP_CPU_CONVOLUTION = onednn (or unset) | onednn-direct | im2col; any other value is an Error
// naming it.
CpuConvolution cpu_convolution_from_environment();

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(CpuConvolution convolution = cpu_convolution_from_environment());
  ~CpuBackend() override;
  Device device() const override { return Device::cpu; }
  std::string name() const override;

  void gemm(bool transpose_a, bool transpose_b, float alpha, const Tensor& a, const Tensor& b, float beta,
            Tensor& c) override;
  void add_bias(Tensor& y, const Tensor& bias) override;
  void bias_grad(const Tensor& dy, float beta, Tensor& dbias) override;

  void conv2d_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) override;
  void conv2d_training_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) override;
  bool conv2d_relu_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g,
                           bool training) override;
  void conv2d_backward_data(const Tensor& dy, const Tensor& weights, Tensor& dx, const WindowGeometry& g) override;
  void conv2d_backward_filter(const Tensor& dy, const Tensor& x, float beta, Tensor& dweights,
                              const WindowGeometry& g) override;

  void locally_connected_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) override;
  void locally_connected_backward_data(const Tensor& dy, const Tensor& weights, Tensor& dx,
                                       const WindowGeometry& g) override;
  void locally_connected_backward_weight(const Tensor& dy, const Tensor& x, float beta, Tensor& dweights,
                                         const WindowGeometry& g) override;

  void max_pool_forward(const Tensor& x, Tensor& y, const WindowGeometry& g) override;
  void max_pool_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const WindowGeometry& g) override;
  void avg_pool_forward(const Tensor& x, Tensor& y, const WindowGeometry& g) override;
  void avg_pool_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const WindowGeometry& g) override;

  void batch_norm_statistics(const Tensor& x, Tensor& mean, Tensor& variance) override;
  void batch_norm_forward(const Tensor& x, const Tensor& mean, const Tensor& variance, float epsilon,
                          const Tensor& gamma, const Tensor& beta, Tensor& y) override;
  void batch_norm_sums(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& variance, float epsilon,
                       float accumulate, Tensor& sum_dy_xhat, Tensor& sum_dy) override;
  void batch_norm_backward_data(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& variance,
                                float epsilon, const Tensor& gamma, const Tensor& sum_dy_xhat, const Tensor& sum_dy,
                                Tensor& dx) override;
  void batch_norm_training_forward(const Tensor& x, float epsilon, const Tensor& gamma, const Tensor& beta,
                                   Tensor& mean, Tensor& variance, Tensor& y) override;
  void batch_norm_training_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& variance,
                                    float epsilon, const Tensor& gamma, Tensor& sum_dy_xhat, Tensor& sum_dy,
                                    Tensor& dx) override;

  void activation_forward(Activation f, const Tensor& a, Tensor& h) override;
  void activation_backward(Activation f, const Tensor& a, const Tensor& h, const Tensor& dh, Tensor& da) override;
  void fill(Tensor& x, float value) override;
  void copy(const Tensor& from, Tensor& to) override;
  void axpy(float alpha, const Tensor& x, Tensor& y) override;
  void scale(float alpha, Tensor& x) override;
  void multiply_by_noise(Tensor& x, float stddev, uint64_t seed, uint64_t offset) override;
  void clamp_to_signs(Tensor& w, const Tensor& signs) override;
  void dropout_mask(Tensor& mask, float rate, uint64_t seed, uint64_t offset, uint64_t first = 0) override;
  void multiply(const Tensor& a, const Tensor& b, Tensor& out) override;
  void sign(const Tensor& x, float scale, Tensor& out) override;
  double sum_of_squares(const Tensor& x) override;
  double dot(const Tensor& a, const Tensor& b) override;
  void project_feedback(const Tensor& e, const Tensor& projection, const std::vector<ProjectionSlice>& slices) override;
  void random_uniform(Tensor& x, float low, float high, uint64_t seed, uint64_t offset) override;
  void random_normal(Tensor& x, float mean, float stddev, uint64_t seed, uint64_t offset, uint64_t first = 0) override;

  float softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& dlogits) override;
  float mean_squared_error(const Tensor& outputs, const Tensor& labels, Tensor& doutputs) override;
  float regression_error(const Tensor& outputs, const Tensor& targets, Tensor& doutputs) override;
  int count_correct(const Tensor& outputs, const Tensor& labels) override;
  void trial_losses(Tensor& losses) override;

  void attention_gate(const Tensor& q, const Tensor& labels, const ExplorationPolicy& policy, uint64_t seed,
                      uint64_t offset, GateOutputs& out, Tensor& tags, uint64_t first_trial = 0) override;
  ScoredLoss score_gate(const GateOutputs& gate) override;
  void linear_combination(float alpha, const Tensor& x, float beta, const Tensor& y, float gamma, const Tensor& z,
                          Tensor& out) override;
  void scale_samples(const Tensor& x, const Tensor& scale, float alpha, Tensor& out) override;
  void dense_three_factor_update(const Tensor& tags, const Tensor& pre, const Tensor& modulator, float alpha,
                                 float beta, Tensor& dweights) override;
  void locally_connected_three_factor_update(const Tensor& tags, const Tensor& pre, const Tensor& modulator,
                                             float alpha, float beta, Tensor& dweights,
                                             const WindowGeometry& g) override;

  void dendrite_step(const DendriteStep& step) override;

  void sgd_step(Tensor& weights, const Tensor& grad, Tensor& velocity, const SgdSettings& s) override;
  void adam_step(Tensor& weights, const Tensor& grad, Tensor& first_moment, Tensor& second_moment,
                 const AdamSettings& s, int step) override;

  Tensor to_device(const Tensor& host) override { return host; }
  Tensor to_host(const Tensor& on_device) override { return on_device; }

 private:
  std::vector<float> trial_losses_;  // of the last loss computed
  // Scratch for im2col matrices and per-thread receptive fields; grows, never shrinks.
  float* scratch(std::vector<float>& buffer, size_t count);
  // Calls work(first, count, columns, product) for each chunk of images of a convolution, with the
  // im2col matrix (patch_size x count*positions) and product (out_channels x count*positions) scratch.
  template <typename Work>
  void for_each_image_chunk(const WindowGeometry& g, Work work);
  std::vector<float> columns_, product_, patches_;
  std::vector<float> filter_gradient_;         // oneDNN's weight gradient, before beta * dweights is added
  std::unique_ptr<OnednnConvolution> onednn_;  // null on the im2col path
};

// Receptive-field helpers shared by the convolution and locally connected reference code.
// Copies the patch of image `image` (C,H,W) feeding output position (oh, ow) into patch[patch_size],
// zeros where the window hangs over the padding.
void gather_patch(const float* image, const WindowGeometry& g, int oh, int ow, float* patch);
// Adds patch[patch_size] back into image gradient `image` (the transpose of gather_patch).
void scatter_patch_add(const float* patch, const WindowGeometry& g, int oh, int ow, float* image);

// Element counts below this run on one thread: waking the OpenMP team costs more than the work.
constexpr size_t parallel_threshold = 1 << 15;

}  // namespace bioprop
