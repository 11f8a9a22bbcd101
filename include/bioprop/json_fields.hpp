#pragma once
// Checked reads of JSON records that come from files (checkpoints): a missing field, a wrong type or
// an integer out of its field's range is a bioprop::Error naming the file and the field, never a
// library exception or an undefined conversion (1e308 into an int).
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "bioprop/error.hpp"

namespace bioprop {

// The value of `field` (already looked up) as T; `where` names the file and `name` the field.
template <typename T>
T json_value(const nlohmann::json& field, const std::string& where, const std::string& name) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!field.is_boolean()) fail("{}: field '{}' must be true or false, got {}", where, name, field.dump());
    return field.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!field.is_number_integer()) fail("{}: field '{}' must be an integer, got {}", where, name, field.dump());
    constexpr auto lowest = static_cast<int64_t>(std::numeric_limits<T>::min());
    constexpr auto highest = static_cast<uint64_t>(std::numeric_limits<T>::max());
    if (field.is_number_unsigned()) {
      if (field.get<uint64_t>() <= highest) return static_cast<T>(field.get<uint64_t>());
    } else {
      const int64_t value = field.get<int64_t>();
      if (value >= lowest && (value < 0 || static_cast<uint64_t>(value) <= highest)) return static_cast<T>(value);
    }
    fail("{}: field '{}' = {} is out of range [{}, {}]", where, name, field.dump(), std::numeric_limits<T>::min(),
         std::numeric_limits<T>::max());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!field.is_number()) fail("{}: field '{}' must be a number, got {}", where, name, field.dump());
    return field.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!field.is_string()) fail("{}: field '{}' must be a string, got {}", where, name, field.dump());
    return field.get<std::string>();
  } else {
    static_assert(std::is_same_v<T, nlohmann::json>, "json_value: unsupported type");
    return field;
  }
}

// record[key] as T; the field must be there.
template <typename T>
T json_field(const nlohmann::json& record, const std::string& key, const std::string& where) {
  if (!record.is_object()) fail("{}: expected a JSON object holding '{}', got {}", where, key, record.type_name());
  const auto it = record.find(key);
  if (it == record.end()) fail("{}: field '{}' is missing", where, key);
  return json_value<T>(*it, where, key);
}

// record[key] as T, or `fallback` when the field is absent (a wrong type is still an error).
template <typename T>
T json_field_or(const nlohmann::json& record, const std::string& key, T fallback, const std::string& where) {
  if (!record.is_object()) fail("{}: expected a JSON object holding '{}', got {}", where, key, record.type_name());
  const auto it = record.find(key);
  return it == record.end() ? fallback : json_value<T>(*it, where, key);
}

}  // namespace bioprop
