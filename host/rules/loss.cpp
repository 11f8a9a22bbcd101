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

namespace {
ScoredLoss output_loss(Backend& backend, Loss loss, Network& network, const Tensor& labels, bool count_correct) {
  Tensor& doutput = network.gradient(network.size());
  const Tensor& output = network.output();
  ScoredLoss result;
  switch (loss) {
    case Loss::cross_entropy:
      result = count_correct ? backend.scored_softmax_cross_entropy(output, labels, doutput)
                             : ScoredLoss{backend.softmax_cross_entropy(output, labels, doutput), 0};
      break;
    case Loss::mean_squared_error:
      result = count_correct ? backend.scored_mean_squared_error(output, labels, doutput)
                             : ScoredLoss{backend.mean_squared_error(output, labels, doutput), 0};
      break;
    case Loss::regression:
      result.loss = backend.regression_error(output, labels, doutput);
      break;
  }
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
