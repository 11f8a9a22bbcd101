#pragma once
// Layers: Dense, Conv2d, LocallyConnected2d, MaxPool2d, AvgPool2d, Dropout, BatchNorm, Flatten and
// the activations. The Network keeps every layer's input x and output y for the current batch and
// hands them back in the backward calls, so a rule can run several backward passes over one forward
// pass. Layers hold their parameters; the only per-batch state is what the last forward pass drew or
// measured (dropout's mask, batch norm's batch statistics), which its backward pass reuses.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bioprop/backend.hpp"
#include "bioprop/stream_position.hpp"

namespace bioprop {

// Which matrix carries an error down through a layer: the forward weights W (backprop) or the
// layer's explicit feedback weights B (feedback alignment and kin).
enum class Pathway { forward_weights, feedback_weights };

enum class InitKind { he, glorot, normal };
struct Initializer {
  InitKind kind = InitKind::he;
  float stddev = 0.01f;  // for InitKind::normal
  uint64_t seed = 0;
};

struct Parameter {
  std::string name;  // e.g. "layer2.conv2d.weights"
  Tensor value;
  Tensor grad;
  bool decays = true;  // whether the optimiser's weight decay (L2) applies: weights yes, biases and batch norm no
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string kind() const = 0;
  // Human-readable settings, e.g. "32 3x3 s2 p0".
  virtual std::string settings() const { return ""; }
  // Allocates and initialises the parameters for samples of shape `input` (batch axis first, any
  // batch size) and returns the output shape. `index` is the layer's position in the net; it names
  // the parameters and separates their random streams. Throws Error when the shape does not fit.
  virtual Shape build(const Shape& input, int index, const Initializer& init, Backend& backend) = 0;
  // Output shape for an input of this shape (after build).
  virtual Shape output_shape(const Shape& input) const = 0;
  virtual void forward(Backend& backend, const Tensor& x, Tensor& y) = 0;
  // forward, then y = max(y, 0), in one pass where the layer can (Network uses it when a ReLU layer that runs
  // in place follows); false where it cannot, and then nothing ran.
  virtual bool forward_then_relu(Backend& /*backend*/, const Tensor& /*x*/, Tensor& /*y*/) { return false; }
  // dx = (dL/dy pulled back through the layer). For weighted layers `pathway` picks W or B.
  virtual void backward_data(Backend& backend, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                             Pathway pathway = Pathway::forward_weights) = 0;
  // Weight (and bias) gradients: grad = beta * grad + dL/dW. No-op for layers without weights.
  virtual void weight_grad(Backend& /*backend*/, const Tensor& /*x*/, const Tensor& /*dy*/, float /*beta*/) {}
  // weight_grad and, when dx is given, backward_data for the same dy in one call: layers that share
  // work between the two (batch norm's per-channel sums) override it.
  virtual void backward(Backend& backend, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, float beta,
                        Pathway pathway = Pathway::forward_weights) {
    weight_grad(backend, x, dy, beta);
    if (dx) backward_data(backend, x, y, dy, *dx, pathway);
  }
  // The three-factor update of the reward-based rules (Q-AGREL, BrainProp): the weight gradient, as
  // weight_grad with beta 0, for dy_b = alpha * modulator_b * tags_b. This version scales the tags
  // into `scratch` first; dense and locally connected layers without biases fuse the modulator into
  // their update kernel instead (Backend::*_three_factor_update).
  virtual void modulated_weight_grad(Backend& backend, const Tensor& x, const Tensor& tags, const Tensor& modulator,
                                     float alpha, Tensor& scratch) {
    scratch.resize(tags.shape(), backend.device());
    backend.scale_samples(tags, modulator, alpha, scratch);
    weight_grad(backend, x, scratch, 0.0f);
  }
  virtual std::vector<Parameter*> parameters() { return {}; }
  // The function of an activation layer, so rules can fuse its derivative into their own kernels.
  virtual std::optional<Activation> activation_function() const { return std::nullopt; }
  bool is_activation() const { return activation_function().has_value(); }
  // Training or evaluation mode (dropout acts only while training; batch norm uses batch statistics).
  virtual void set_training(bool /*training*/) {}
  // While set, forward passes repeat the last pass's random draws (dropout's mask) and change no state
  // (batch norm's running statistics): the perturbed passes of weight and node perturbation.
  virtual void set_repeat_draws(bool /*repeat*/) {}
  // While set, batch norm in training normalises with the statistics of its last ordinary pass (held as
  // constants, also in the backward pass) instead of the batch's own: no sample's output depends on the others'.
  virtual void set_hold_statistics(bool /*hold*/) {}
  // Data-parallel training with synchronised batch statistics: batch norm normalises with the statistics of
  // the whole global batch, summed over the ranks of `job`; this rank holds `share` of the batch's trials.
  // Null: each rank's own statistics.
  virtual void set_statistics_sync(Communicator* /*job*/, double /*share*/) {}
  // Data-parallel training: the batch's first trial is trial `first` of the global batch, so per-trial draws
  // (dropout's masks) start there in their streams and K ranks draw what one process draws.
  virtual void set_first_trial(uint64_t /*first*/) {}
  // The counters of the layer's random streams (dropout's masks), saved with checkpoints.
  virtual StreamPositions stream_positions() { return {}; }
  // State that is not trained but belongs to the net and is saved with checkpoints (batch norm's
  // running statistics); a state Parameter has no grad.
  virtual std::vector<Parameter*> state() { return {}; }
  // True when a sample's output depends on the other samples of the batch (batch norm while
  // training): per-trial signals (an RPE) must then enter before the layer, not after it.
  virtual bool mixes_samples() const { return false; }
};

// Base of the layers with weights W, an optional bias and optional feedback weights B.
// B is an explicit, inspectable parameter with the shape of W (so B = W reproduces backprop exactly);
// rules decide how B is made and whether it learns. A learning B is listed in parameters(), so the
// optimiser updates it and checkpoints save it.
class WeightedLayer : public Layer {
 public:
  explicit WeightedLayer(bool use_bias) : use_bias_(use_bias) {}
  std::vector<Parameter*> parameters() override;
  Parameter& weights() { return weights_; }
  Parameter* bias() { return use_bias_ ? &bias_ : nullptr; }
  bool has_feedback() const { return feedback_.has_value(); }
  Tensor& feedback_weights();
  Parameter& feedback();
  // Installs B (shape of W). With `learns`, B joins parameters() and needs a grad every step.
  void set_feedback_weights(Tensor feedback, bool learns = false);
  // Into feedback().grad: the gradient with respect to B of 1/2 ||backward_data(dy; B) - target||^2, given
  // residual = backward_data(dy; B) - target. backward_data is linear in B and the adjoint of the forward
  // map, so this is the weight-gradient map with x = residual (for every layer kind: dense, conv's
  // transposed kernel, locally connected). The layer's own weight and bias grads are left as they were.
  void feedback_weight_grad(Backend& backend, const Tensor& residual, const Tensor& dy);

 protected:
  // Allocates W (and the bias) and draws W from the initializer with fan-in / fan-out given.
  void create_weights(const Shape& weight_shape, int bias_size, int fan_in, int fan_out, int index,
                      const Initializer& init, Backend& backend);
  const Tensor& weights_for(Pathway pathway);

  bool use_bias_;
  Parameter weights_, bias_;
  std::optional<Parameter> feedback_;
  bool feedback_learns_ = false;
  Tensor bias_kept_;  // feedback_weight_grad's copy of the bias grad
};

std::unique_ptr<Layer> make_dense(int units, bool use_bias = true);
std::unique_ptr<Layer> make_conv2d(int channels, int kernel, int stride = 1, int padding = 0, bool use_bias = true);
std::unique_ptr<Layer> make_locally_connected2d(int channels, int kernel, int stride = 1, int padding = 0,
                                                bool use_bias = true);
std::unique_ptr<Layer> make_max_pool2d(int kernel, int stride);
std::unique_ptr<Layer> make_avg_pool2d(int kernel, int stride);
std::unique_ptr<Layer> make_flatten();
// Inverted dropout (Srivastava et al. 2014): while training, each value is kept with probability
// 1 - rate and scaled by 1 / (1 - rate); in evaluation the layer is the identity.
std::unique_ptr<Layer> make_dropout(float rate);
std::unique_ptr<Layer> make_activation(Activation f);
// Batch normalisation (Ioffe & Szegedy 2015) per channel of (N,C,H,W) or per feature of (N,F) inputs,
// with Keras's defaults: running statistics with momentum 0.99, epsilon 1e-3.
std::unique_ptr<Layer> make_batch_norm(float momentum = 0.99f, float epsilon = 1e-3f);

std::string to_string(Activation f);

}  // namespace bioprop
