// A checkpoint's net rebuilt from its record, for `bioprop eval` (and the checkpoint fuzzer, which
// feeds it hostile files): every field is checked before it is used, since a record from elsewhere
// may lie.
#include "bioprop/checked_size.hpp"
#include "bioprop/config.hpp"
#include "bioprop/error.hpp"
#include "bioprop/json_fields.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

CheckpointNet load_checkpoint_net(const std::string& path, Backend& backend, int batch_size) {
  CheckpointNet loaded;
  loaded.record = read_checkpoint_record(path);
  const nlohmann::json& record = loaded.record;
  loaded.source = {json_field<std::string>(record, "net", path), path + " (saved net)",
                   json_field<std::string>(record, "net_toml", path)};
  loaded.dataset = json_field<std::string>(record, "dataset", path);
  const nlohmann::json dims = json_field<nlohmann::json>(record, "sample_shape", path);
  if (!dims.is_array() || dims.empty() || dims.size() > 3)
    fail("{}: field 'sample_shape' must be a list of 1 to 3 dimensions, got {}", path, dims.dump());
  std::vector<int> sample;
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    sample.push_back(json_value<int>(dims[axis], path, fmt::format("sample_shape[{}]", axis)));
    if (sample.back() < 1) fail("{}: field 'sample_shape[{}]' must be at least 1, got {}", path, axis, sample.back());
  }
  checked_numel(sample, path + " sample_shape");
  const int classes = json_field<int>(record, "classes", path);
  if (classes < 1) fail("{}: field 'classes' must be at least 1, got {}", path, classes);
  NetOverrides overrides;
  const nlohmann::json bias = json_field_or<nlohmann::json>(record, "bias", nullptr, path);
  if (!bias.is_null()) overrides.bias = json_value<bool>(bias, path, "bias");
  loaded.network = build_network(loaded.source, Shape(sample), classes, 0, backend, overrides);
  loaded.network->check_fits_in_memory(batch_size, backend);
  load_checkpoint_weights(path, *loaded.network, backend);
  return loaded;
}

}  // namespace bioprop
