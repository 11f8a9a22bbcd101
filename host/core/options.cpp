#include "bioprop/options.hpp"

#include <climits>

#include "bioprop/error.hpp"

namespace bioprop {

namespace {
const char* type_name(const Options::Value& v) {
  static constexpr const char* names[] = {"a boolean", "an integer", "a number", "a string"};
  return names[v.index()];
}
}  // namespace

double Options::get_number(const std::string& key, double fallback) {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  used_.insert(key);
  if (auto* d = std::get_if<double>(&it->second)) return *d;
  if (auto* i = std::get_if<long long>(&it->second)) return static_cast<double>(*i);
  fail("{}: '{}' must be a number, got {}", where_, key, type_name(it->second));
}

long long Options::get_integer(const std::string& key, long long fallback) {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  used_.insert(key);
  if (auto* i = std::get_if<long long>(&it->second)) return *i;
  fail("{}: '{}' must be an integer, got {}", where_, key, type_name(it->second));
}

int Options::get_int(const std::string& key, int fallback) {
  const long long value = get_integer(key, fallback);
  if (value < INT_MIN || value > INT_MAX) fail("{}: '{}' = {} does not fit a 32-bit integer field", where_, key, value);
  return static_cast<int>(value);
}

bool Options::get_bool(const std::string& key, bool fallback) {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  used_.insert(key);
  if (auto* b = std::get_if<bool>(&it->second)) return *b;
  fail("{}: '{}' must be true or false, got {}", where_, key, type_name(it->second));
}

std::string Options::get_string(const std::string& key, const std::string& fallback) {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  used_.insert(key);
  if (auto* s = std::get_if<std::string>(&it->second)) return *s;
  fail("{}: '{}' must be a string, got {}", where_, key, type_name(it->second));
}

void Options::check_all_used() const {
  std::string unknown;
  for (const auto& [key, value] : values_)
    if (!used_.count(key)) unknown += (unknown.empty() ? "'" : ", '") + key + "'";
  if (!unknown.empty()) fail("{}: unknown key {}", where_, unknown);
}

}  // namespace bioprop
