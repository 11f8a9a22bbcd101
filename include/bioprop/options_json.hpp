#pragma once
// A rule's or optimiser's Options in a run record (JSON) and back: checkpoints keep the settings they were
// trained with, so `bioprop eval` and the Python module's Trainer.load rebuild the same rule and optimiser.
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "bioprop/error.hpp"
#include "bioprop/options.hpp"

namespace bioprop {

inline nlohmann::json options_json(const Options& options) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : options.values()) std::visit([&, &key = key](const auto& v) { out[key] = v; }, value);
  return out;
}

// `where` names the record's file and field in messages (and in the Options' own).
inline Options options_from_json(const nlohmann::json& object, const std::string& where) {
  if (!object.is_object()) fail("{}: expected a table of options, got {}", where, object.dump());
  Options options(where);
  for (const auto& [key, value] : object.items()) {
    if (value.is_boolean())
      options.set(key, value.get<bool>());
    else if (value.is_number_integer())
      options.set(key, value.get<long long>());
    else if (value.is_number())
      options.set(key, value.get<double>());
    else if (value.is_string())
      options.set(key, value.get<std::string>());
    else
      fail("{}: option '{}' has a value of type {}", where, key, value.type_name());
  }
  return options;
}

}  // namespace bioprop
