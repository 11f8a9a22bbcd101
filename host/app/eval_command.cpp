#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "bioprop/device.hpp"
#include "bioprop/error.hpp"
#include "bioprop/json_fields.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

int run_eval(const std::string& checkpoint, const std::string& data_dir, const std::string& device, int batch_size) {
  const DeviceChoice choice = choose_device(device);
  auto backend = make_backend(choice);
  spdlog::info("device: {}", choice.description);
  const CheckpointNet loaded = load_checkpoint_net(checkpoint, *backend, batch_size);
  const nlohmann::json& record = loaded.record;
  DataRequest request;
  request.name = loaded.dataset;
  request.data_dir = data_dir;
  const DataSplits data = load_dataset(request);
  const Evaluation result = evaluate(*loaded.network, data.test, *backend, batch_size);
  spdlog::info("{} ({} net, rule {}, epoch {}): test accuracy {:.2f}%, test loss {:.4f} on {} images", checkpoint,
               loaded.source.name, json_field_or<std::string>(record, "rule", "?", checkpoint),
               json_field_or<int>(record, "epoch", 0, checkpoint), 100 * result.accuracy, result.loss,
               data.test.size());
  return 0;
}

}  // namespace bioprop
