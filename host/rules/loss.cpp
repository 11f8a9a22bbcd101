#include "bioprop/error.hpp"
#include "bioprop/rule.hpp"

namespace bioprop {

Loss parse_loss(const std::string& name, const std::string& where) {
  if (name == "cross_entropy") return Loss::cross_entropy;
  if (name == "mse") return Loss::mean_squared_error;
  fail("{}: unknown loss '{}' (cross_entropy or mse)", where, name);
}

std::string to_string(Loss loss) { return loss == Loss::cross_entropy ? "cross_entropy" : "mse"; }

float compute_loss(Backend& backend, Loss loss, Network& network, const Tensor& labels) {
  Tensor& doutput = network.gradient(network.size());
  return loss == Loss::cross_entropy ? backend.softmax_cross_entropy(network.output(), labels, doutput)
                                     : backend.mean_squared_error(network.output(), labels, doutput);
}

}  // namespace bioprop
