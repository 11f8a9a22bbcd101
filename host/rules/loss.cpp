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

float loss_of(Backend& backend, Loss loss, const Tensor& output, const Tensor& labels, Tensor& doutput) {
  doutput.resize(output.shape(), backend.device());
  switch (loss) {
    case Loss::cross_entropy:
      return backend.softmax_cross_entropy(output, labels, doutput);
    case Loss::mean_squared_error:
      return backend.mean_squared_error(output, labels, doutput);
    case Loss::regression:
      return backend.regression_error(output, labels, doutput);
  }
  return 0.0f;
}

namespace {
ScoredLoss output_loss(Backend& backend, Loss loss, Network& network, const Tensor& labels, bool count_correct) {
  Tensor& doutput = network.gradient(network.size());
  const Tensor& output = network.output();
  ScoredLoss result;
  if (count_correct && loss == Loss::cross_entropy)
    result = backend.scored_softmax_cross_entropy(output, labels, doutput);
  else if (count_correct && loss == Loss::mean_squared_error)
    result = backend.scored_mean_squared_error(output, labels, doutput);
  else
    result.loss = loss_of(backend, loss, output, labels, doutput);
  network.add_signal_noise(backend, doutput);
  return result;
}
}  // namespace

float compute_loss(Backend& backend, Loss loss, Network& network, const Tensor& labels) {
  return output_loss(backend, loss, network, labels, /*count_correct=*/false).loss;
}

ScoredLoss compute_scored_loss(Backend& backend, Loss loss, Network& network, const Tensor& labels) {
  return output_loss(backend, loss, network, labels, /*count_correct=*/true);
}

}  // namespace bioprop
