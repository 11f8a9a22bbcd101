#include "bioprop/error.hpp"
#include "bioprop/rule.hpp"

namespace bioprop {

Loss parse_loss(const std::string& name, const std::string& where) {
  if (name == "cross_entropy") return Loss::cross_entropy;
  if (name == "mse") return Loss::mean_squared_error;
  if (name == "regression") return Loss::regression;
  fail("{}: unknown loss '{}' (cross_entropy, mse or regression)", where, name);
}

std::string to_string(Loss loss) {
  switch (loss) {
    case Loss::cross_entropy:
      return "cross_entropy";
    case Loss::mean_squared_error:
      return "mse";
    case Loss::regression:
      return "regression";
  }
  return "?";
}

float compute_loss(Backend& backend, Loss loss, Network& network, const Tensor& labels) {
  Tensor& doutput = network.gradient(network.size());
  float value = 0.0f;
  switch (loss) {
    case Loss::cross_entropy:
      value = backend.softmax_cross_entropy(network.output(), labels, doutput);
      break;
    case Loss::mean_squared_error:
      value = backend.mean_squared_error(network.output(), labels, doutput);
      break;
    case Loss::regression:
      value = backend.regression_error(network.output(), labels, doutput);
      break;
  }
  network.add_signal_noise(backend, doutput);
  return value;
}

}  // namespace bioprop
