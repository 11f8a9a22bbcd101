#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "bioprop/device.hpp"
#include "bioprop/error.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

int run_eval(const std::string& checkpoint, const std::string& data_dir, const std::string& device, int batch_size) {
  const DeviceChoice choice = choose_device(device);
  auto backend = make_backend(choice);
  spdlog::info("device: {}", choice.description);
  const nlohmann::json record = read_checkpoint_record(checkpoint);
  NetSource source;
  DataRequest request;
  std::vector<int> sample;
  int classes = 0;
  try {
    source = {record.at("net").get<std::string>(), checkpoint + " (saved net)",
              record.at("net_toml").get<std::string>()};
    request.name = record.at("dataset").get<std::string>();
    sample = record.at("sample_shape").get<std::vector<int>>();
    classes = record.at("classes").get<int>();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: the checkpoint record lacks a field: {}", checkpoint, e.what());
  }
  request.data_dir = data_dir;
  NetOverrides overrides;
  if (record.contains("bias") && record["bias"].is_boolean()) overrides.bias = record["bias"].get<bool>();
  auto network = build_network(source, Shape(sample), classes, 0, *backend, overrides);
  load_checkpoint_weights(checkpoint, *network, *backend);
  const DataSplits data = load_dataset(request);
  const Evaluation result = evaluate(*network, data.test, *backend, batch_size);
  spdlog::info("{} ({} net, rule {}, epoch {}): test accuracy {:.2f}%, test loss {:.4f} on {} images", checkpoint,
               source.name, record.value("rule", "?"), record.value("epoch", 0), 100 * result.accuracy, result.loss,
               data.test.size());
  return 0;
}

}  // namespace bioprop
