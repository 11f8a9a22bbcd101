#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "bioprop/device.hpp"
#include "bioprop/error.hpp"
#include "bioprop/json_fields.hpp"
#include "bioprop/options_json.hpp"
#include "bioprop/rule.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

int run_eval(const std::string& checkpoint, const std::string& data_dir, const std::string& device, int batch_size,
             int test_limit) {
  const DeviceChoice choice = choose_device(device);
  auto backend = make_backend(choice);
  spdlog::info("device: {}", choice.description);
  const CheckpointNet loaded = load_checkpoint_net(checkpoint, *backend, batch_size);
  const nlohmann::json& record = loaded.record;
  DataRequest request;
  request.name = loaded.dataset;
  request.data_dir = data_dir;
  request.test_limit = test_limit;
  const DataSplits data = load_dataset(request);
  // The rule evaluates (the segregated-dendrite rule simulates its spiking net): rebuilt from the record, its own
  // matrices loaded after attach() made them. Checkpoints from before records kept rule options: the net alone.
  std::unique_ptr<Rule> rule;
  if (record.contains("rule_options") && record["rule_options"].is_object()) {
    Options options = options_from_json(record["rule_options"], checkpoint + " rule_options");
    rule = make_rule(json_field_or<std::string>(record, "rule", "bp", checkpoint), options);
    rule->attach(*loaded.network, *backend, json_field_or<uint64_t>(record, "seed", 1, checkpoint));
    load_checkpoint_weights(checkpoint, *loaded.network, *backend, rule->rule_parameters());
  }
  const Evaluation result = evaluate(*loaded.network, data.test, *backend, batch_size, rule.get());
  spdlog::info("{} ({} net, rule {}, epoch {}): test accuracy {:.2f}%, test loss {:.4f} on {} images", checkpoint,
               loaded.source.name, json_field_or<std::string>(record, "rule", "?", checkpoint),
               json_field_or<int>(record, "epoch", 0, checkpoint), 100 * result.accuracy, result.loss,
               data.test.size());
  return 0;
}

}  // namespace bioprop
