#include <cmath>

#include "bioprop/error.hpp"
#include "bioprop/layers.hpp"

namespace bioprop {

std::vector<Parameter*> WeightedLayer::parameters() {
  std::vector<Parameter*> all{&weights_};
  if (use_bias_) all.push_back(&bias_);
  if (feedback_ && feedback_learns_) all.push_back(&*feedback_);
  return all;
}

Parameter& WeightedLayer::feedback() {
  if (!feedback_) fail("{} has no feedback weights: the learning rule did not create them", weights_.name);
  return *feedback_;
}

Tensor& WeightedLayer::feedback_weights() { return feedback().value; }

void WeightedLayer::set_feedback_weights(Tensor feedback, bool learns) {
  if (feedback.shape() != weights_.value.shape())
    fail("{}: feedback weights of shape {} do not match the weights {}", weights_.name, feedback.shape().str(),
         weights_.value.shape().str());
  std::string name = weights_.name;
  name.replace(name.rfind(".weights"), std::string::npos, ".feedback");
  Tensor grad(feedback.shape(), feedback.device());
  feedback_ = Parameter{std::move(name), std::move(feedback), std::move(grad)};
  feedback_learns_ = learns;
}

void WeightedLayer::feedback_weight_grad(Backend& backend, const Tensor& residual, const Tensor& dy) {
  Parameter& b = feedback();
  // weight_grad writes W's grad (and the bias's): lend it B's grad buffer, and keep the bias's.
  std::swap(weights_.grad, b.grad);
  if (use_bias_) bias_kept_.resize(bias_.grad.shape(), bias_.grad.device()), backend.copy(bias_.grad, bias_kept_);
  weight_grad(backend, residual, dy, 0.0f);
  if (use_bias_) backend.copy(bias_kept_, bias_.grad);
  std::swap(weights_.grad, b.grad);
}

const Tensor& WeightedLayer::weights_for(Pathway pathway) {
  return pathway == Pathway::forward_weights ? weights_.value : feedback_weights();
}

void WeightedLayer::create_weights(const Shape& weight_shape, int bias_size, int fan_in, int fan_out, int index,
                                   const Initializer& init, Backend& backend) {
  const std::string prefix = "layer" + std::to_string(index) + "." + kind();
  weights_ = {prefix + ".weights", Tensor(weight_shape, backend.device()), Tensor(weight_shape, backend.device())};
  // Every layer draws from its own stream of the seed, so adding a layer does not change the others.
  const uint64_t stream = static_cast<uint64_t>(index) << 40;
  switch (init.kind) {
    case InitKind::he:  // He et al. 2015: keeps the variance of ReLU activations constant with depth.
      backend.random_normal(weights_.value, 0.0f, std::sqrt(2.0f / static_cast<float>(fan_in)), init.seed, stream);
      break;
    case InitKind::glorot: {  // Glorot & Bengio 2010, uniform variant.
      const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
      backend.random_uniform(weights_.value, -limit, limit, init.seed, stream);
      break;
    }
    case InitKind::normal:
      backend.random_normal(weights_.value, 0.0f, init.stddev, init.seed, stream);
      break;
  }
  if (use_bias_)
    bias_ = {prefix + ".bias", Tensor({bias_size}, backend.device()), Tensor({bias_size}, backend.device()), false};
}

}  // namespace bioprop
