#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "bioprop/checked_size.hpp"
#include "bioprop/device.hpp"
#include "bioprop/error.hpp"
#include "bioprop/json_fields.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

int run_eval(const std::string& checkpoint, const std::string& data_dir, const std::string& device, int batch_size) {
  const DeviceChoice choice = choose_device(device);
  auto backend = make_backend(choice);
  spdlog::info("device: {}", choice.description);
  const nlohmann::json record = read_checkpoint_record(checkpoint);
  // Every field is checked before it is used: a record from elsewhere may lie.
  const NetSource source{json_field<std::string>(record, "net", checkpoint), checkpoint + " (saved net)",
                         json_field<std::string>(record, "net_toml", checkpoint)};
  DataRequest request;
  request.name = json_field<std::string>(record, "dataset", checkpoint);
  const nlohmann::json dims = json_field<nlohmann::json>(record, "sample_shape", checkpoint);
  if (!dims.is_array() || dims.empty() || dims.size() > 3)
    fail("{}: field 'sample_shape' must be a list of 1 to 3 dimensions, got {}", checkpoint, dims.dump());
  std::vector<int> sample;
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    sample.push_back(json_value<int>(dims[axis], checkpoint, fmt::format("sample_shape[{}]", axis)));
    if (sample.back() < 1)
      fail("{}: field 'sample_shape[{}]' must be at least 1, got {}", checkpoint, axis, sample.back());
  }
  checked_numel(sample, checkpoint + " sample_shape");
  const int classes = json_field<int>(record, "classes", checkpoint);
  if (classes < 1) fail("{}: field 'classes' must be at least 1, got {}", checkpoint, classes);
  request.data_dir = data_dir;
  NetOverrides overrides;
  const nlohmann::json bias = json_field_or<nlohmann::json>(record, "bias", nullptr, checkpoint);
  if (!bias.is_null()) overrides.bias = json_value<bool>(bias, checkpoint, "bias");
  auto network = build_network(source, Shape(sample), classes, 0, *backend, overrides);
  network->check_fits_in_memory(batch_size, *backend);
  load_checkpoint_weights(checkpoint, *network, *backend);
  const DataSplits data = load_dataset(request);
  const Evaluation result = evaluate(*network, data.test, *backend, batch_size);
  spdlog::info("{} ({} net, rule {}, epoch {}): test accuracy {:.2f}%, test loss {:.4f} on {} images", checkpoint,
               source.name, json_field_or<std::string>(record, "rule", "?", checkpoint),
               json_field_or<int>(record, "epoch", 0, checkpoint), 100 * result.accuracy, result.loss,
               data.test.size());
  return 0;
}

}  // namespace bioprop
