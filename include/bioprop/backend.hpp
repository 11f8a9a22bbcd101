#pragma once
// Backend: the only interface through which layers, rules and optimisers compute. CpuBackend is the
// reference (host/cpu); CudaBackend (cuda/) implements the same operations and is tested against it.
// Rules never touch raw pointers: they call these operations on Tensors.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bioprop/dendrite_math.hpp"
#include "bioprop/distributed.hpp"
#include "bioprop/tensor.hpp"

namespace bioprop {

// Geometry of a 2-D window operation (convolution, locally connected, pooling): input N,C,H,W,
// output N,out_channels,out_h,out_w, square stride and zero padding on every side.
struct WindowGeometry {
  int batch = 0;
  int in_channels = 0, in_h = 0, in_w = 0;
  int out_channels = 0, out_h = 0, out_w = 0;
  int kernel_h = 0, kernel_w = 0;
  int stride = 1, padding = 0;

  int positions() const { return out_h * out_w; }
  // Length of one receptive field: in_channels * kernel_h * kernel_w.
  int patch_size() const { return in_channels * kernel_h * kernel_w; }
};

enum class Activation { relu, sigmoid, tanh, softplus };

// Action selection of the reward-based rules (Q-AGREL, BrainProp): with probability 1 - epsilon the
// greedy action (argmax of the action values), otherwise one drawn from softmax(values / temperature)
// (a Max-Boltzmann controller, Wiering 1999).
struct ExplorationPolicy {
  float epsilon = 0.02f;
  float temperature = 1.0f;
};

// A batch's mean loss and how many of its rows had their largest output at the label.
struct ScoredLoss {
  float loss = 0.0f;
  int correct = 0;
};

// Outputs of attention_gate, one entry per trial (sample) of the batch.
struct GateOutputs {
  Tensor actions;         // (N) chosen output unit, as float
  Tensor rewards;         // (N) 1 if the action is the label, else 0
  Tensor rpe;             // (N) reward-prediction error r - Z_a
  Tensor greedy_correct;  // (N) 1 if the greedy action (largest value) is the label: the accuracy
};

// One destination of Backend::project_feedback: `out` (N, F) receives columns [first_column,
// first_column + F) of the projection, multiplied by f'(pre) when `derivative` (post = f(pre)).
struct ProjectionSlice {
  int first_column = 0;
  Tensor* out = nullptr;
  bool derivative = false;
  Activation f = Activation::relu;
  const Tensor* pre = nullptr;
  const Tensor* post = nullptr;
};

// One millisecond of one layer of segregated-dendrite neurons (Guerguiev et al. 2017) for every example of
// a batch: the equations are in dendrite_math.hpp. Tensors are (N, units) unless said otherwise.
struct DendriteStep {
  DendriteLayer layer = DendriteLayer::hidden;
  const Tensor* drive = nullptr;       // input: the firing rates; hidden: the basal potential B; output: the dendrite D
  const Tensor* drive_bias = nullptr;  // optional (units): added to the drive (the layer's bias b)
  const Tensor* apical = nullptr;      // hidden: the apical potential A
  const Tensor* apical_bias = nullptr;  // optional (units): added to A (the apical bias c)
  const Tensor* labels = nullptr;       // output: (N) class indexes in the target phase; null in the forward phase
  Tensor* soma = nullptr;               // hidden and output: the somatic potential, advanced one step
  Tensor *trace_fast = nullptr, *trace_slow = nullptr;  // the spike traces (spiking mode), advanced
  Tensor* psp = nullptr;                                // out: the PSP the layer's spikes cause now
  // Sums over the plasticity window, each added to when set.
  Tensor *soma_sum = nullptr, *apical_sum = nullptr, *rate_sum = nullptr, *psp_sum = nullptr;
  DendriteConstants constants;
  bool spiking = true;            // false: the paper's non-spiking mode (the PSP is the rate)
  uint64_t seed = 0, offset = 0;  // uniform draw first + i of Philox (seed, offset) makes element i's spike count
  uint64_t first = 0;             // the batch's place in the global batch's stream: first trial times units
};

struct SgdSettings {
  float learning_rate = 0.01f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;  // L2 penalty, added to the gradient
};

struct AdamSettings {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
  float weight_decay = 0.0f;  // L2 penalty, added to the gradient
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;
  // The memory its tensors live in: the machine's on the CPU, the device's total on a GPU.
  virtual size_t memory_bytes() const { return host_memory_bytes(); }

  // --- dense algebra. Tensors are read as row-major matrices: rows = dim 0, cols = the rest.
  // c = alpha * op(a) * op(b) + beta * c
  virtual void gemm(bool transpose_a, bool transpose_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                    Tensor& c) = 0;
  // y += bias, broadcast: bias index = (i / inner) % bias.numel() with inner = sample_size / bias.numel()
  // (per feature for dense and locally connected layers, per channel for convolutions).
  virtual void add_bias(Tensor& y, const Tensor& bias) = 0;
  // dbias = beta * dbias + sum of dy over everything but the bias index.
  virtual void bias_grad(const Tensor& dy, float beta, Tensor& dbias) = 0;

  // --- convolution, weights (out_channels, in_channels, kernel_h, kernel_w).
  virtual void conv2d_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) = 0;
  // The same in training: the backend may keep what conv2d_backward_filter needs of x for as long as x is
  // unchanged (CpuBackend keeps oneDNN's blocked copy of it, which saves reordering x again).
  virtual void conv2d_training_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) {
    conv2d_forward(x, weights, y, g);
  }
  // y = max(conv(x, w), 0) in one pass over y where the backend can (a library's post-op: the ReLU that
  // follows a convolution costs no pass of its own); false where it cannot, and then nothing was written.
  virtual bool conv2d_relu_forward(const Tensor& /*x*/, const Tensor& /*weights*/, Tensor& /*y*/,
                                   const WindowGeometry& /*g*/, bool /*training*/) {
    return false;
  }
  virtual void conv2d_backward_data(const Tensor& dy, const Tensor& weights, Tensor& dx, const WindowGeometry& g) = 0;
  // dweights = beta * dweights + gradient
  virtual void conv2d_backward_filter(const Tensor& dy, const Tensor& x, float beta, Tensor& dweights,
                                      const WindowGeometry& g) = 0;

  // --- locally connected (unshared) 2-D, weights (out_h, out_w, out_channels, in_channels, kernel_h, kernel_w).
  virtual void locally_connected_forward(const Tensor& x, const Tensor& weights, Tensor& y,
                                         const WindowGeometry& g) = 0;
  virtual void locally_connected_backward_data(const Tensor& dy, const Tensor& weights, Tensor& dx,
                                               const WindowGeometry& g) = 0;
  virtual void locally_connected_backward_weight(const Tensor& dy, const Tensor& x, float beta, Tensor& dweights,
                                                 const WindowGeometry& g) = 0;

  // --- pooling (no padding); out_channels == in_channels.
  virtual void max_pool_forward(const Tensor& x, Tensor& y, const WindowGeometry& g) = 0;
  virtual void max_pool_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const WindowGeometry& g) = 0;
  virtual void avg_pool_forward(const Tensor& x, Tensor& y, const WindowGeometry& g) = 0;
  virtual void avg_pool_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const WindowGeometry& g) = 0;

  // --- batch normalisation (Ioffe & Szegedy 2015), per channel c = (i / inner) % channels with
  // inner = sample_size / channels: per feature for (N,F), per channel for (N,C,H,W). M is the number
  // of values of one channel in the batch (N * inner); xhat = (x - mean_c) / sqrt(var_c + epsilon).
  // mean_c and the biased variance var_c of x over the batch and positions.
  virtual void batch_norm_statistics(const Tensor& x, Tensor& mean, Tensor& variance) = 0;
  // y = gamma_c * xhat + beta_c
  virtual void batch_norm_forward(const Tensor& x, const Tensor& mean, const Tensor& variance, float epsilon,
                                  const Tensor& gamma, const Tensor& beta, Tensor& y) = 0;
  // Per channel: sum_dy_xhat = accumulate * sum_dy_xhat + sum of dy * xhat; sum_dy likewise with dy.
  // These are dL/dgamma and dL/dbeta.
  virtual void batch_norm_sums(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& variance,
                               float epsilon, float accumulate, Tensor& sum_dy_xhat, Tensor& sum_dy) = 0;
  // dx = gamma_c / sqrt(var_c + epsilon) * (dy - (sum_dy_c + xhat * sum_dy_xhat_c) / M): the gradient
  // through the batch statistics. With both sums zero it is the evaluation-mode (fixed statistics) one.
  virtual void batch_norm_backward_data(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& variance,
                                        float epsilon, const Tensor& gamma, const Tensor& sum_dy_xhat,
                                        const Tensor& sum_dy, Tensor& dx) = 0;
  // Training's pairs in one call each, so a backend can finish a channel while its values are in cache
  // (CpuBackend; the same bits as the two calls): batch_norm_statistics then batch_norm_forward; and
  // batch_norm_sums (accumulate 0) then batch_norm_backward_data with those sums.
  virtual void batch_norm_training_forward(const Tensor& x, float epsilon, const Tensor& gamma, const Tensor& beta,
                                           Tensor& mean, Tensor& variance, Tensor& y) {
    batch_norm_statistics(x, mean, variance);
    batch_norm_forward(x, mean, variance, epsilon, gamma, beta, y);
  }
  virtual void batch_norm_training_backward(const Tensor& dy, const Tensor& x, const Tensor& mean,
                                            const Tensor& variance, float epsilon, const Tensor& gamma,
                                            Tensor& sum_dy_xhat, Tensor& sum_dy, Tensor& dx) {
    batch_norm_sums(dy, x, mean, variance, epsilon, 0.0f, sum_dy_xhat, sum_dy);
    batch_norm_backward_data(dy, x, mean, variance, epsilon, gamma, sum_dy_xhat, sum_dy, dx);
  }

  // --- element-wise
  virtual void activation_forward(Activation f, const Tensor& a, Tensor& h) = 0;
  // da = dh * f'(a); h = f(a) is passed so f' can reuse it (sigmoid, tanh).
  virtual void activation_backward(Activation f, const Tensor& a, const Tensor& h, const Tensor& dh, Tensor& da) = 0;
  virtual void fill(Tensor& x, float value) = 0;
  virtual void copy(const Tensor& from, Tensor& to) = 0;
  // y = alpha * x + y
  virtual void axpy(float alpha, const Tensor& x, Tensor& y) = 0;
  virtual void scale(float alpha, Tensor& x) = 0;
  // x = x * (1 + stddev * xi) element-wise, xi ~ N(0, 1) from Philox (seed, offset): imprecise plasticity.
  virtual void multiply_by_noise(Tensor& x, float stddev, uint64_t seed, uint64_t offset) = 0;
  // Inverted dropout: mask_i = 1 / (1 - rate) where uniform draw first + i of (seed, offset) >= rate, else 0.
  // The draws that are made per trial start at `first`, the tensor's place in the global batch's stream (the
  // rank's first trial times the elements per trial), so that K ranks draw what one process draws.
  virtual void dropout_mask(Tensor& mask, float rate, uint64_t seed, uint64_t offset, uint64_t first = 0) = 0;
  // out = a * b element-wise.
  virtual void multiply(const Tensor& a, const Tensor& b, Tensor& out) = 0;
  // out = alpha x + beta y + gamma z element-wise, in one pass (out may be x, y or z; all the same size):
  // target propagation's difference targets h + g(t) - g(h) and local errors c (h - t).
  virtual void linear_combination(float alpha, const Tensor& x, float beta, const Tensor& y, float gamma,
                                  const Tensor& z, Tensor& out) = 0;
  // Dale's law: w = max(w, 0) where signs > 0, min(w, 0) where signs < 0 (same shapes).
  virtual void clamp_to_signs(Tensor& w, const Tensor& signs) = 0;
  // out = scale * sign(x) (sign(0) = 0): sign-symmetric feedback.
  virtual void sign(const Tensor& x, float scale, Tensor& out) = 0;
  // Sum of x_i^2 over the tensor (returned to the host).
  virtual double sum_of_squares(const Tensor& x) = 0;
  // Sum of a_i * b_i (returned to the host).
  virtual double dot(const Tensor& a, const Tensor& b) = 0;
  // DFA's feedback to every layer at once (Launay et al. 2020): P = e (N,K) x B (K,W), and each slice's
  // columns of P go to its layer's gradient, times the derivative of the activation below it when the
  // slice lands right after one. Slices are in column order and cover B's columns. On the GPU it is one
  // launch: the product's epilogue does the slicing and the derivative, so P is never stored.
  virtual void project_feedback(const Tensor& e, const Tensor& projection,
                                const std::vector<ProjectionSlice>& slices) = 0;
  virtual void random_uniform(Tensor& x, float low, float high, uint64_t seed, uint64_t offset) = 0;
  // x_i = normal draw first + i of (seed, offset) (per-trial noise starts at its place in the global batch).
  virtual void random_normal(Tensor& x, float mean, float stddev, uint64_t seed, uint64_t offset,
                             uint64_t first = 0) = 0;

  // --- losses over a batch; labels hold class indexes as floats (N). Both return the mean loss over
  // the batch and write its gradient with respect to the outputs.
  // softmax cross-entropy: L = -1/N sum_n log softmax(z_n)[label_n]
  virtual float softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& dlogits) = 0;
  // mean squared error to the one-hot target: L = 1/(2N) sum_n ||y_n - onehot(label_n)||^2
  virtual float mean_squared_error(const Tensor& outputs, const Tensor& labels, Tensor& doutputs) = 0;
  // squared error to real-valued targets (N) of a single output (N,1): L = 1/(2N) sum_n (y_n - t_n)^2
  virtual float regression_error(const Tensor& outputs, const Tensor& targets, Tensor& doutputs) = 0;
  // Number of rows whose largest output is at the label.
  virtual int count_correct(const Tensor& outputs, const Tensor& labels) = 0;
  // Each trial's own loss L_n from the last loss computed (any of the three above or their scored
  // versions), whose batch loss is their mean: losses is resized to (N). Node perturbation's per-trial
  // estimate uses it (each trial's loss change drives only that trial's noise).
  virtual void trial_losses(Tensor& losses) = 0;
  // A loss and count_correct of the same outputs from one pass: one host synchronisation on a GPU,
  // where computing them apart takes two (training reads both every step).
  virtual ScoredLoss scored_softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& dlogits) {
    return {softmax_cross_entropy(logits, labels, dlogits), count_correct(logits, labels)};
  }
  virtual ScoredLoss scored_mean_squared_error(const Tensor& outputs, const Tensor& labels, Tensor& doutputs) {
    return {mean_squared_error(outputs, labels, doutputs), count_correct(outputs, labels)};
  }

  // --- reward-based credit assignment (DESIGN.md section 2).
  // For every trial b: selects an action a_b from values q_b (N,K) with the policy, using uniform draws
  // (seed, offset, 2t) to decide on exploring and (seed, offset, 2t+1) to sample, t = first_trial + b (the
  // trial's place in the global batch); gives reward
  // r_b = [a_b == label_b] and rpe_b = r_b - q_b[a_b]; writes the output attention tag onehot(a_b)
  // into tags (N,K). One pass over the batch (one launch on the GPU).
  virtual void attention_gate(const Tensor& q, const Tensor& labels, const ExplorationPolicy& policy, uint64_t seed,
                              uint64_t offset, GateOutputs& out, Tensor& tags, uint64_t first_trial = 0) = 0;
  // The loss of the reward-based rules, 1/(2N) sum_b rpe_b^2, and the number of trials whose greedy
  // action is the label, from a gate's outputs: one host synchronisation on a GPU.
  virtual ScoredLoss score_gate(const GateOutputs& gate) = 0;
  // out_b = alpha * scale_b * x_b for every sample b: a per-trial neuromodulator applied to tags.
  virtual void scale_samples(const Tensor& x, const Tensor& scale, float alpha, Tensor& out) = 0;
  // The three-factor update with the per-trial neuromodulator m fused into the weight update (no
  // separate scaling pass on the GPU): dW = beta * dW + alpha * sum_b m_b * tags_b (x) pre_b.
  // Dense: tags (N, O), pre (N, I) (or any (N, ...) of I values per trial), dW (O, I).
  virtual void dense_three_factor_update(const Tensor& tags, const Tensor& pre, const Tensor& modulator, float alpha,
                                         float beta, Tensor& dweights) = 0;
  // Locally connected: tags shaped like the layer's output, pre its input, dW its weights.
  virtual void locally_connected_three_factor_update(const Tensor& tags, const Tensor& pre, const Tensor& modulator,
                                                     float alpha, float beta, Tensor& dweights,
                                                     const WindowGeometry& g) = 0;

  // --- segregated-dendrite networks: one launch per layer and millisecond, the state stays on the device.
  virtual void dendrite_step(const DendriteStep& step) = 0;

  // --- optimiser steps, in place. velocity / moments have the shape of the weights.
  virtual void sgd_step(Tensor& weights, const Tensor& grad, Tensor& velocity, const SgdSettings& s) = 0;
  virtual void adam_step(Tensor& weights, const Tensor& grad, Tensor& first_moment, Tensor& second_moment,
                         const AdamSettings& s, int step) = 0;

  // Host <-> backend transfers: a tensor on this backend's device holding the same values.
  virtual Tensor to_device(const Tensor& host) = 0;
  virtual Tensor to_host(const Tensor& on_device) = 0;
  // Blocks until queued work is done (a no-op on the CPU).
  virtual void synchronize() {}

  // --- data-parallel training (distributed.hpp): sums each tensor over the ranks of `job`, in place, on every
  // rank. start_all_reduce_sum queues the sums (the tensors' values as the backend's queued work leaves them)
  // and returns: later work may run meanwhile but must not touch the tensors until finish_all_reduce_sums(),
  // after which the backend's work sees the sums. By default through host memory and the job's MPI (the CPU's
  // sums run while the CPU computes on); CudaBackend sums device memory with NCCL on a communication stream,
  // its communicator bootstrapped through the job. Every rank starts the same sums in the same order.
  virtual void start_all_reduce_sum(const std::vector<Tensor*>& tensors, Communicator& job) {
    if (job.size() == 1) return;
    for (Tensor* t : tensors) {
      if (t->empty()) continue;
      if (device() == Device::cpu) {
        job.start_all_reduce_sum(t->data(), t->numel());
        continue;
      }
      Tensor host = to_host(*t);  // a device tensor is copied out, summed and copied back
      job.all_reduce_sum(host.data(), host.numel());
      copy(to_device(host), *t);
    }
  }
  virtual void finish_all_reduce_sums(Communicator& job) { job.finish_sums(); }
  void all_reduce_sum(const std::vector<Tensor*>& tensors, Communicator& job) {
    start_all_reduce_sum(tensors, job);
    finish_all_reduce_sums(job);
  }
  // How all_reduce_sum moves the sums, for the run's log.
  virtual std::string all_reduce_path() const { return "MPI on host memory"; }

  // --- streamed uploads for the batch scheduler (host/scheduler). Two upload slots (0, 1) let batch
  // k + 1 travel while batch k trains. The CPU versions are plain copies.
  // A host tensor that asynchronous uploads can read: page-locked memory on a GPU.
  virtual Tensor staging_tensor(const Shape& shape) { return Tensor(shape); }
  // Copies `host` into `on_device` (on this device) on a copy stream, after the compute work queued so
  // far (which may still read `on_device`), and returns at once; `host` must stay unchanged until
  // wait_upload_read(slot).
  virtual void upload_async(const Tensor& host, Tensor& on_device, int /*slot*/) { copy(host, on_device); }
  // Compute work queued after this call waits for the slot's upload (on the device, not the host).
  virtual void use_upload(int /*slot*/) {}
  // Blocks until the slot's upload has read its host buffer, which may then be refilled.
  virtual void wait_upload_read(int /*slot*/) {}
};

std::unique_ptr<Backend> make_cpu_backend();

}  // namespace bioprop
