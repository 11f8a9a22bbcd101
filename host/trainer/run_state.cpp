#include "run_state.hpp"

#include <set>

#include "bioprop/json_fields.hpp"

namespace bioprop {

nlohmann::json to_json(const EpochMetrics& m) {
  nlohmann::json j = {{"epoch", m.epoch},
                      {"train_loss", m.train_loss},
                      {"train_accuracy", m.train_accuracy},
                      {"test_loss", m.test_loss},
                      {"test_accuracy", m.test_accuracy},
                      {"seconds", m.seconds},
                      {"images_per_second", m.images_per_second},
                      {"data_wait_fraction", m.data_wait_fraction}};
  if (m.validation_accuracy >= 0) j["validation_accuracy"] = m.validation_accuracy;
  if (!m.alignment.empty()) {
    j["alignment"] = nlohmann::json::array();
    for (const LayerAlignment& a : m.alignment) {
      nlohmann::json layer = {{"layer", a.layer}, {"update_angle_to_bp", a.update_angle}};
      if (a.feedback_angle >= 0) layer["feedback_angle_to_w"] = a.feedback_angle;
      j["alignment"].push_back(layer);
    }
  }
  return j;
}

EpochMetrics epoch_metrics_from_json(const nlohmann::json& j, const std::string& where) {
  EpochMetrics m;
  m.epoch = json_field<int>(j, "epoch", where);
  m.train_loss = json_field<double>(j, "train_loss", where);
  m.train_accuracy = json_field<double>(j, "train_accuracy", where);
  m.test_loss = json_field<double>(j, "test_loss", where);
  m.test_accuracy = json_field<double>(j, "test_accuracy", where);
  m.seconds = json_field<double>(j, "seconds", where);
  m.images_per_second = json_field<double>(j, "images_per_second", where);
  m.data_wait_fraction = json_field<double>(j, "data_wait_fraction", where);
  m.validation_accuracy = json_field_or<double>(j, "validation_accuracy", -1.0, where);
  for (const nlohmann::json& layer : json_field_or<nlohmann::json>(j, "alignment", nlohmann::json::array(), where)) {
    LayerAlignment a;
    a.layer = json_field<int>(layer, "layer", where + " alignment");
    a.update_angle = json_field<double>(layer, "update_angle_to_bp", where + " alignment");
    a.feedback_angle = json_field_or<double>(layer, "feedback_angle_to_w", -1.0, where + " alignment");
    m.alignment.push_back(a);
  }
  return m;
}

nlohmann::json to_json(const RunState& state, const StreamPositions& streams) {
  nlohmann::json j = {{"epoch", state.epoch},
                      {"batches_done", state.batches_done},
                      {"loss_sum", state.loss_sum},
                      {"correct", state.correct},
                      {"seen", state.seen},
                      {"steps", state.steps},
                      {"best_monitored", state.best_monitored},
                      {"epochs_without_gain", state.epochs_without_gain},
                      {"epochs", nlohmann::json::array()},
                      {"streams", nlohmann::json::object()}};
  for (const EpochMetrics& m : state.epochs) j["epochs"].push_back(to_json(m));
  for (const StreamPosition& s : streams) j["streams"][s.name] = *s.draws;
  return j;
}

RunState run_state_from_json(const nlohmann::json& j, const StreamPositions& streams, const std::string& where) {
  const std::string field = where + " run_state";
  RunState state;
  state.epoch = json_field<int>(j, "epoch", field);
  state.batches_done = json_field<int>(j, "batches_done", field);
  state.loss_sum = json_field<double>(j, "loss_sum", field);
  state.correct = json_field<long>(j, "correct", field);
  state.seen = json_field<long>(j, "seen", field);
  state.steps = json_field<uint64_t>(j, "steps", field);
  state.best_monitored = json_field<double>(j, "best_monitored", field);
  state.epochs_without_gain = json_field<int>(j, "epochs_without_gain", field);
  if (state.epoch < 1 || state.batches_done < 0 || state.seen < 0 || state.correct < 0 || state.correct > state.seen)
    fail("{}: inconsistent position (epoch {}, {} batches done, {} of {} correct)", field, state.epoch,
         state.batches_done, state.correct, state.seen);
  const nlohmann::json epochs = json_field<nlohmann::json>(j, "epochs", field);
  if (!epochs.is_array()) fail("{}: field 'epochs' must be an array", field);
  for (const nlohmann::json& m : epochs) state.epochs.push_back(epoch_metrics_from_json(m, field + " epochs"));
  const nlohmann::json saved = json_field<nlohmann::json>(j, "streams", field);
  std::set<std::string> expected;
  for (const StreamPosition& s : streams) {
    *s.draws = json_field<uint64_t>(saved, s.name, field + " streams");
    expected.insert(s.name);
  }
  for (const auto& [name, value] : saved.items())
    if (expected.count(name) == 0)
      fail("{}: random stream '{}' is not one of this net and rule (another net or rule?)", field + " streams", name);
  return state;
}

}  // namespace bioprop
