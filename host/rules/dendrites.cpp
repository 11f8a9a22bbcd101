// Segregated-dendrite learning (Guerguiev, Lillicrap, Richards 2017, "Towards deep learning with segregated
// dendrites", eLife 6:e22901). The net's dense layers are populations of spiking neurons (dendrite_math.hpp);
// each training example runs a forward phase (input only) and a target phase (the output's somata are nudged
// toward the label), and the plasticity window at the end of each phase gives the averages the updates use:
//   hidden layer:  dW = eta P_h k_B (alpha_t - alpha_f) o phi'(C_f) PSP_f^T, alpha = sigma(mean apical
//                  potential) -- the plateau potentials' difference carries the error (their eq. for dW^0);
//   output layer:  dW = eta P_o k_D (phi_t - phi(U_f)) o phi'(U_f) PSP_f^T, phi_t the target phase's mean rate;
// with P_h = 20 / phi_max and P_o = 20 / phi_max^2 (the authors' error scale factors, 100 and 500), biases
// alike with PSP = 1. Updates are averaged over the batch (the authors update after every example: batch 1).
// Evaluation runs a longer forward phase and reads the output's mean somatic potential.
#include <cmath>

#include "bioprop/error.hpp"
#include "bioprop/rng.hpp"
#include "builtin_rules.hpp"
#include "dendrite_simulation.hpp"

namespace bioprop {
namespace {

enum class FeedbackKind { random, symmetric, learned };

struct Settings {
  DendriteConstants constants;
  bool spiking = true;
  bool broadcast = true;
  bool sparse_feedback = false;  // 80% of Y zeroed, the rest times 5 (the paper's sparse-feedback variant)
  FeedbackKind feedback = FeedbackKind::random;
  float feedback_lr = 0.0f;  // learned feedback: the rate of Y's updates
  bool paper_init = true;    // the authors' initialisation (mean and spread of the somatic potentials)
  int forward_ms = 50, target_ms = 50, window_ms = 20;
  bool random_extra = true;  // + floor(Wald(mean 2, shape 1)) ms per phase, drawn per batch
  int test_ms = 250, test_window_ms = 220;
};

// numpy.random.wald(mean, scale): the inverse Gaussian distribution, by Michael, Schucany and Haas (1976)
// from one normal and one uniform draw.
double inverse_gaussian(double mean, double shape, double normal, double uniform) {
  const double y = normal * normal;
  const double x =
      mean + mean * mean * y / (2 * shape) - mean / (2 * shape) * std::sqrt(4 * mean * shape * y + mean * mean * y * y);
  return uniform <= mean / (mean + x) ? x : mean * mean / x;
}

// Uniform(-sqrt(3) spread, sqrt(3) spread) + mean: the authors' draws, mean plus uniform noise of a given sd.
Tensor uniform_matrix(const Shape& shape, double mean, double spread, uint64_t seed, uint64_t stream) {
  Tensor t(shape);
  const double half_width = std::sqrt(3.0) * spread;
  for (size_t i = 0; i < t.numel(); ++i)
    t.at(i) = static_cast<float>(mean + half_width * (2.0 * philox_uniform(seed, stream << 32, i) - 1.0));
  return t;
}

class Dendrites final : public Rule {
 public:
  explicit Dendrites(Settings s) : s_(s) {}
  std::string name() const override { return "dendrites"; }

  void attach(Network& network, Backend& backend, uint64_t seed) override {
    layers_.clear();
    std::vector<int> sizes{static_cast<int>(network.sample_shape().numel())};
    for (int i = 0; i < network.size(); ++i) {
      Layer& layer = network.layer(i);
      const std::string kind = layer.kind();
      if (kind == "dense") {
        auto& dense = dynamic_cast<WeightedLayer&>(layer);
        if (!dense.bias()) fail("rule 'dendrites': layer {} (dense) needs a bias (train with --bias)", i);
        layers_.push_back(&dense);
        sizes.push_back(dense.weights().value.dim(0));
      } else if (kind != "flatten" && kind != "sigmoid") {
        fail("rule 'dendrites' simulates dense layers of spiking neurons (sigmoid rates); layer {} is {}", i, kind);
      }
    }
    if (layers_.empty()) fail("rule 'dendrites': the net has no dense layer");
    seed_ = seed;
    simulation_ = std::make_unique<DendriteSimulation>(sizes, s_.constants, s_.spiking, s_.broadcast);
    if (s_.paper_init) initialise_forward(sizes, backend);
    create_feedback(sizes, backend);
    synapses_ = {};
    for (size_t l = 0; l < layers_.size(); ++l) {
      synapses_.forward.push_back(&layers_[l]->weights().value);
      synapses_.bias.push_back(&layers_[l]->bias()->value);
      synapses_.feedback.push_back(l < feedback_.size() ? &feedback_[l].value : nullptr);
      synapses_.feedback_bias.push_back(l < feedback_bias_.size() ? &feedback_bias_[l].value : nullptr);
    }
    if (s_.feedback == FeedbackKind::symmetric) make_feedback_symmetric(backend);
  }

  std::vector<Parameter*> rule_parameters() override {
    std::vector<Parameter*> out;
    for (auto& p : feedback_) out.push_back(&p);
    for (auto& p : feedback_bias_) out.push_back(&p);
    return out;
  }

  std::vector<Parameter*> changed_in_step() override {  // only learned feedback changes in the step
    return s_.feedback == FeedbackKind::learned ? rule_parameters() : std::vector<Parameter*>{};
  }

  StreamPositions stream_positions() override {
    return {{"training_ms", &training_ms_}, {"evaluation_ms", &evaluation_ms_}, {"phase_draws", &phase_draws_}};
  }

  StepResult step(Network& network, const Batch& batch, Backend& backend) override {
    const int n = batch.size();
    input_rates(batch.inputs, backend);
    simulation_->reset(backend, n);
    simulation_->clear(backend, forward_, n);
    simulation_->clear(backend, target_, n);
    const int forward_ms = phase_length(s_.forward_ms), target_ms = phase_length(s_.target_ms);
    simulation_->run(backend, synapses_, rates_, nullptr, forward_ms, s_.window_ms, forward_, seed_ ^ 0x5B1CEu,
                     training_ms_, network.first_trial());
    simulation_->run(backend, synapses_, rates_, &batch.labels, target_ms, s_.window_ms, target_, seed_ ^ 0x5B1CEu,
                     training_ms_, network.first_trial());
    return assign_updates(batch, backend);
  }

  // The forward phase of a test: test_ms of input, the output's mean somatic potential over the last
  // test_window_ms (the class with the largest is the answer).
  const Tensor& infer(Network& /*network*/, const Tensor& inputs, Backend& backend) override {
    const int n = inputs.dim(0);
    input_rates(inputs, backend);
    simulation_->reset(backend, n);
    simulation_->clear(backend, evaluation_, n);
    simulation_->run(backend, synapses_, rates_, nullptr, s_.test_ms, s_.test_window_ms, evaluation_, seed_ ^ 0xE7A1u,
                     evaluation_ms_, 0);
    Tensor& output = evaluation_.soma.back();
    backend.scale(1.0f / static_cast<float>(s_.test_window_ms), output);
    return output;
  }

  void after_update(Network& /*network*/, Backend& backend) override {
    if (s_.feedback == FeedbackKind::symmetric) make_feedback_symmetric(backend);
  }

 private:
  // phi_max times the pixel intensities: the input neurons' rates.
  void input_rates(const Tensor& inputs, Backend& backend) {
    const int n = inputs.dim(0);
    const int features = static_cast<int>(inputs.numel() / static_cast<size_t>(n));
    rates_.resize({n, features}, backend.device());
    backend.copy(inputs.reshaped({n, features}), rates_);
    backend.scale(s_.constants.phi_max * s_.constants.dt, rates_);
  }

  int phase_length(int base) {
    if (!s_.random_extra) return base;
    const uint64_t draw = phase_draws_++;
    const double extra = inverse_gaussian(2.0, 1.0, philox_normal(seed_ ^ 0x3A1Du, 0, draw),
                                          philox_uniform(seed_ ^ 0x3A1Du, uint64_t{1} << 40, draw));
    return base + static_cast<int>(extra);
  }

  // The authors' initialisation: W and b drawn so that, for inputs firing in the rate function's linear range,
  // somatic potentials have mean 3 and sd 3 and biases mean 0.8 (sd 0.001).
  void initialise_forward(const std::vector<int>& sizes, Backend& backend) {
    const double v_mean = 3, v_sd = 3, b_mean = 0.8, b_sd = 0.001;
    const double slope = s_.constants.phi_max * 0.25, v_second = v_sd * v_sd + v_mean * v_mean;
    spreads_.clear();
    for (size_t l = 0; l < layers_.size(); ++l) {
      const double fan_in = sizes[l];
      const double w_mean = (v_mean - b_mean) / (slope * fan_in * v_mean);
      const double w_second =
          (v_second + slope * slope * (fan_in - fan_in * fan_in) * w_mean * w_mean * v_mean * v_mean -
           2 * fan_in * slope * b_mean * v_mean * w_mean - b_mean * b_mean) /
          (fan_in * slope * slope * v_second);
      const double w_sd = std::sqrt(std::max(w_second - w_mean * w_mean, 0.0));
      spreads_.push_back(w_sd);
      Parameter& w = layers_[l]->weights();
      w.value = backend.to_device(uniform_matrix(w.value.shape(), w_mean, w_sd, seed_ ^ 0x1417u, 2 * l));
      Parameter& b = *layers_[l]->bias();
      b.value = backend.to_device(uniform_matrix(b.value.shape(), b_mean, b_sd, seed_ ^ 0x1417u, 2 * l + 1));
    }
  }

  // Fixed random feedback Y_l and apical biases c_l of every hidden layer. Broadcast (the paper's default):
  // Y_l = R_l Y_{l+1} with Y of the last hidden layer R (n, K), each R of the spread of the forward weights
  // above, so the feedback passes through the same number of random maps as the forward signal.
  void create_feedback(const std::vector<int>& sizes, Backend& backend) {
    const size_t hidden = layers_.size() - 1;
    const int outputs = sizes.back();
    feedback_.assign(hidden, {});
    feedback_bias_.assign(hidden, {});
    if (spreads_.empty())  // the net's own initialisation: the root-mean-square of each W
      for (WeightedLayer* layer : layers_) {
        const Tensor& w = layer->weights().value;
        spreads_.push_back(std::sqrt(backend.sum_of_squares(w) / static_cast<double>(w.numel())));
      }
    for (size_t l = hidden; l-- > 0;) {
      const int units = sizes[l + 1], source = s_.broadcast ? outputs : sizes[l + 2];
      const double spread = spreads_[l + 1];
      Tensor y;
      if (s_.broadcast && l + 1 < hidden) {
        // R (units, n_{l+2}) times the layer above's Y (n_{l+2}, K)
        const Tensor r = backend.to_device(uniform_matrix({units, sizes[l + 2]}, 0, spread, seed_ ^ 0xFEEDu, 2 * l));
        y = Tensor({units, outputs}, backend.device());
        backend.gemm(false, false, 1.0f, r, feedback_[l + 1].value, 0.0f, y);
      } else {
        y = backend.to_device(uniform_matrix({units, source}, 0, spread, seed_ ^ 0xFEEDu, 2 * l));
      }
      const Tensor r_bias = backend.to_device(uniform_matrix({source, 1}, 0, spread, seed_ ^ 0xFEEDu, 2 * l + 1));
      Tensor c({units, 1}, backend.device());
      backend.gemm(false, false, 1.0f, y, r_bias, 0.0f, c);
      feedback_[l] = {fmt::format("dendrites.feedback{}", l), std::move(y), {}, false};
      feedback_bias_[l] = {fmt::format("dendrites.feedback_bias{}", l), c.reshaped({units}), {}, false};
    }
    // After every product: the sparse variant thins each layer's final feedback, as the authors do.
    if (s_.sparse_feedback)
      for (size_t l = 0; l < hidden; ++l) sparsify(feedback_[l].value, backend, l);
  }

  // The paper's sparse feedback: 80% of Y's entries zeroed (fixed by seed), the rest 5 times stronger.
  void sparsify(Tensor& y, Backend& backend, size_t l) {
    Tensor mask(y.shape());
    for (size_t i = 0; i < mask.numel(); ++i)
      mask.at(i) = philox_uniform(seed_ ^ 0x5BA5u, l << 32, i) < 0.2 ? 5.0f : 0.0f;
    sparse_masks_.resize(feedback_.size());
    sparse_masks_[l] = backend.to_device(mask);
    backend.multiply(y, sparse_masks_[l], y);
  }

  // Symmetric feedback: Y = W_{l+1}^T (the layer above's forward weights), or with broadcast the product of
  // every forward matrix above, W_{l+1}^T ... W_L^T, so that Y maps output activity back exactly as backprop.
  void make_feedback_symmetric(Backend& backend) {
    for (size_t l = feedback_.size(); l-- > 0;) {
      const Tensor& above = layers_[l + 1]->weights().value;  // (n_{l+2}, n_{l+1})
      Tensor& y = feedback_[l].value;
      if (s_.broadcast && l + 1 < feedback_.size())
        backend.gemm(true, false, 1.0f, above, feedback_[l + 1].value, 0.0f, y);
      else
        transpose_into(above, y, backend);
      if (s_.sparse_feedback) backend.multiply(y, sparse_masks_[l], y);
    }
  }

  void transpose_into(const Tensor& w, Tensor& out, Backend& backend) {
    const int rows = w.dim(0);
    if (identity_.numel() != static_cast<size_t>(rows) * rows) {
      Tensor eye({rows, rows});
      for (int i = 0; i < rows; ++i) eye.at(static_cast<size_t>(i) * rows + i) = 1.0f;
      identity_ = backend.to_device(eye);
    }
    backend.gemm(true, false, 1.0f, w, identity_, 0.0f, out);
  }

  // The averages of both windows give every layer's update (into the grads, as gradients to descend: the
  // optimiser's learning rate is the paper's eta), the loss the authors record, mean((phi_t - phi(U_f))^2),
  // and the forward phase's answers.
  StepResult assign_updates(const Batch& batch, Backend& backend) {
    const int n = batch.size();
    const float window = static_cast<float>(s_.window_ms), phi_max = s_.constants.phi_max * s_.constants.dt;
    for (Tensor& t : forward_.soma) backend.scale(1.0f / window, t);
    for (Tensor& t : forward_.apical) backend.scale(1.0f / window, t);
    for (Tensor& t : target_.apical) backend.scale(1.0f / window, t);
    for (Tensor& t : forward_.psp) backend.scale(1.0f / window, t);
    const size_t top = layers_.size() - 1;

    StepResult result;
    // Output layer: error (phi_t - phi(U_f)) o phi'(U_f), phi' = phi_max sigma'.
    const Tensor& u = forward_.soma[top];
    resize_like(u, sigma_, backend);
    resize_like(u, difference_, backend);
    resize_like(u, error_, backend);
    backend.activation_forward(Activation::sigmoid, u, sigma_);
    backend.linear_combination(1.0f / window, target_.rate[top], -phi_max, sigma_, 0.0f, sigma_, difference_);
    result.loss = static_cast<float>(backend.sum_of_squares(difference_) / static_cast<double>(u.numel()));
    result.correct = backend.count_correct(u, batch.labels);
    backend.activation_backward(Activation::sigmoid, u, sigma_, difference_, error_);
    const float output_scale = 20.0f / (phi_max * phi_max) * s_.constants.k_D() * phi_max;
    write_update(*layers_[top], error_, forward_.psp[top], output_scale / static_cast<float>(n), backend);

    // Hidden layers: error (alpha_t - alpha_f) o phi'(C_f), alpha = sigma(mean apical potential).
    const float hidden_scale = 20.0f / phi_max * s_.constants.k_B() * phi_max;
    for (size_t l = 0; l < top; ++l) {
      const Tensor& c = forward_.soma[l];
      for (Tensor* t : {&sigma_, &difference_, &error_, &alpha_forward_, &alpha_target_}) resize_like(c, *t, backend);
      backend.activation_forward(Activation::sigmoid, forward_.apical[l], alpha_forward_);
      backend.activation_forward(Activation::sigmoid, target_.apical[l], alpha_target_);
      backend.activation_forward(Activation::sigmoid, c, sigma_);
      backend.linear_combination(1.0f, alpha_target_, -1.0f, alpha_forward_, 0.0f, alpha_forward_, difference_);
      backend.activation_backward(Activation::sigmoid, c, sigma_, difference_, error_);
      write_update(*layers_[l], error_, forward_.psp[l], hidden_scale / static_cast<float>(n), backend);
      if (s_.feedback == FeedbackKind::learned) learn_feedback(l, n, backend);  // reuses the buffers: last
    }
    return result;
  }

  // grad W = -scale error^T PSP, grad b = -scale sum_b error (the rule's ascent written as a descent).
  static void write_update(WeightedLayer& layer, const Tensor& error, const Tensor& psp, float scale,
                           Backend& backend) {
    backend.gemm(true, false, -scale, error, psp, 0.0f, layer.weights().grad);
    Parameter& bias = *layer.bias();
    backend.bias_grad(error, 0.0f, bias.grad);
    backend.scale(-scale, bias.grad);
  }

  // The authors' learned-feedback variant: Y moves so that the forward phase's apical plateau predicts the
  // soma's rate: dY = lr ((phi(C_f) - alpha_f) o phi'(A_f)) PSP_source^T, averaged over the batch. Needs
  // sigma_ = sigma(C_f) and alpha_forward_ = sigma(A_f).
  void learn_feedback(size_t l, int n, Backend& backend) {
    const float phi_max = s_.constants.phi_max * s_.constants.dt;
    backend.linear_combination(phi_max, sigma_, -1.0f, alpha_forward_, 0.0f, alpha_forward_, difference_);
    backend.activation_backward(Activation::sigmoid, forward_.apical[l], alpha_forward_, difference_, error_);
    const int source = simulation_->feedback_source(static_cast<int>(l));
    backend.gemm(true, false, s_.feedback_lr * phi_max / static_cast<float>(n), error_,
                 forward_.psp[static_cast<size_t>(source) + 1], 1.0f, feedback_[l].value);
    if (s_.sparse_feedback) backend.multiply(feedback_[l].value, sparse_masks_[l], feedback_[l].value);
  }

  static void resize_like(const Tensor& like, Tensor& t, Backend& backend) { t.resize(like.shape(), backend.device()); }

  Settings s_;
  uint64_t seed_ = 0;
  uint64_t training_ms_ = 0, evaluation_ms_ = 0, phase_draws_ = 0;
  std::vector<WeightedLayer*> layers_;
  std::vector<double> spreads_;
  std::vector<Parameter> feedback_, feedback_bias_;
  std::vector<Tensor> sparse_masks_;
  Tensor identity_;
  std::unique_ptr<DendriteSimulation> simulation_;
  DendriteSynapses synapses_;
  WindowSums forward_, target_, evaluation_;
  Tensor rates_, sigma_, difference_, error_, alpha_forward_, alpha_target_;
};

Settings read_settings(Options& options) {
  Settings s;
  const std::string& where = options.where();
  auto positive_ms = [&](const char* key, int fallback) {
    const int value = options.get_int(key, fallback);
    if (value < 1) fail("{}: '{}' must be at least 1 ms, got {}", where, key, value);
    return value;
  };
  s.forward_ms = positive_ms("forward_ms", s.forward_ms);
  s.target_ms = positive_ms("target_ms", s.target_ms);
  s.window_ms = positive_ms("window_ms", s.window_ms);
  s.test_ms = positive_ms("test_ms", s.test_ms);
  s.test_window_ms = positive_ms("test_window_ms", s.test_window_ms);
  if (s.window_ms > std::min(s.forward_ms, s.target_ms))
    fail("{}: 'window_ms' ({}) must fit in both phases ({} and {} ms)", where, s.window_ms, s.forward_ms, s.target_ms);
  if (s.test_window_ms > s.test_ms)
    fail("{}: 'test_window_ms' ({}) must fit in 'test_ms' ({})", where, s.test_window_ms, s.test_ms);
  s.random_extra = options.get_bool("random_phase_lengths", s.random_extra);
  s.spiking = options.get_bool("spiking", s.spiking);
  s.broadcast = options.get_bool("broadcast", s.broadcast);
  s.sparse_feedback = options.get_bool("sparse_feedback", s.sparse_feedback);
  s.paper_init = options.get_string("init", "paper") == "paper";
  const std::string feedback = options.get_string("feedback", "random");
  if (feedback == "random")
    s.feedback = FeedbackKind::random;
  else if (feedback == "symmetric")
    s.feedback = FeedbackKind::symmetric;
  else if (feedback == "learned")
    s.feedback = FeedbackKind::learned;
  else
    fail("{}: 'feedback' must be \"random\", \"symmetric\" or \"learned\", got \"{}\"", where, feedback);
  s.feedback_lr = static_cast<float>(options.get_number("feedback_lr", s.feedback == FeedbackKind::learned ? 0.01 : 0));
  s.constants.g_A = static_cast<float>(options.get_number("apical_conductance", s.constants.g_A));
  if (s.constants.g_A < 0) fail("{}: 'apical_conductance' must be >= 0, got {}", where, s.constants.g_A);
  s.constants.teaching = static_cast<float>(options.get_number("teaching", s.constants.teaching));
  if (s.constants.teaching < 0) fail("{}: 'teaching' must be >= 0, got {}", where, s.constants.teaching);
  return s;
}

}  // namespace

RuleInfo dendrites_rule_info() {
  return {
      "dendrites",
      "segregated-dendrite spiking nets (Guerguiev, Lillicrap, Richards 2017): basal / apical / soma neurons, a "
      "forward and a target phase, plateau-potential updates; dense nets (nets dendrites, dendrites-deep); "
      "options forward_ms [50], target_ms [50], window_ms [20], random_phase_lengths [true: + Wald(2, 1)], "
      "test_ms [250], test_window_ms [220], spiking [true], feedback = random | symmetric | learned, "
      "feedback_lr, broadcast [true], sparse_feedback [false], apical_conductance [0], teaching [1: scale of the "
      "target phase's conductances], init = paper | net",
      [](Options& options) -> std::unique_ptr<Rule> { return std::make_unique<Dendrites>(read_settings(options)); }};
}

}  // namespace bioprop
