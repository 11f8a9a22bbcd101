#pragma once
// Typed field access on a toml++ table that names the file, the table and the field in every error,
// and remembers which keys were read so leftovers can be reported as unknown.
#include <toml++/toml.h>

#include <cstdint>
#include <set>
#include <string>

#include "bioprop/error.hpp"
#include "bioprop/options.hpp"

namespace bioprop {

class TomlFields {
 public:
  TomlFields(const toml::table& table, std::string where) : table_(table), where_(std::move(where)) {}

  template <typename T>
  T get(const std::string& key, T fallback) {
    const toml::node* node = table_.get(key);
    if (!node) return fallback;
    used_.insert(key);
    if constexpr (std::is_same_v<T, int>) {
      if (auto v = node->value_exact<int64_t>()) {
        if (*v < INT32_MIN || *v > INT32_MAX)
          fail("{}: field '{}' = {} does not fit a 32-bit integer ({})", where_, key, *v, location(*node));
        return static_cast<int>(*v);
      }
    } else if constexpr (std::is_same_v<T, double>) {
      if (auto v = node->value<double>()) return *v;  // integers are accepted as numbers
    } else if constexpr (std::is_same_v<T, bool>) {
      if (auto v = node->value_exact<bool>()) return *v;
    } else {
      if (auto v = node->value_exact<std::string>()) return *v;
    }
    fail("{}: field '{}' must be {}, got {} ({})", where_, key, expected<T>(), describe(*node), location(*node));
  }
  // A sub-table, or nullptr when absent.
  const toml::table* table(const std::string& key) {
    const toml::node* node = table_.get(key);
    if (!node) return nullptr;
    used_.insert(key);
    if (!node->is_table()) fail("{}: field '{}' must be a table ([{}])", where_, key, key);
    return node->as_table();
  }
  const toml::array* array(const std::string& key) {
    const toml::node* node = table_.get(key);
    if (!node) return nullptr;
    used_.insert(key);
    if (!node->is_array()) fail("{}: field '{}' must be an array ([[{}]])", where_, key, key);
    return node->as_array();
  }
  void check_no_unknown_keys() const {
    for (const auto& [key, node] : table_)
      if (!used_.count(std::string(key.str()))) fail("{}: unknown key '{}' ({})", where_, key.str(), location(node));
  }
  const std::string& where() const { return where_; }

  static std::string location(const toml::node& node) {
    const auto& source = node.source();
    return fmt::format("line {}", source.begin.line);
  }
  static std::string describe(const toml::node& node) {
    switch (node.type()) {
      case toml::node_type::string:
        return fmt::format("the string \"{}\"", *node.value<std::string>());
      case toml::node_type::integer:
        return fmt::format("the integer {}", *node.value<int64_t>());
      case toml::node_type::floating_point:
        return fmt::format("the number {}", *node.value<double>());
      case toml::node_type::boolean:
        return *node.value<bool>() ? "true" : "false";
      case toml::node_type::table:
        return "a table";
      case toml::node_type::array:
        return "an array";
      default:
        return "a date or time";
    }
  }

 private:
  template <typename T>
  static const char* expected() {
    if constexpr (std::is_same_v<T, int>)
      return "an integer";
    else if constexpr (std::is_same_v<T, double>)
      return "a number";
    else if constexpr (std::is_same_v<T, bool>)
      return "true or false";
    else
      return "a string";
  }
  const toml::table& table_;
  std::string where_;
  std::set<std::string> used_;
};

// Copies the scalars of a TOML table into Options (rule and optimiser settings).
inline void fill_options(const toml::table& table, Options& options, const std::string& where) {
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    if (auto b = node.value_exact<bool>())
      options.set(name, *b);
    else if (auto i = node.value_exact<int64_t>())
      options.set(name, static_cast<long long>(*i));
    else if (auto d = node.value_exact<double>())
      options.set(name, *d);
    else if (auto s = node.value_exact<std::string>())
      options.set(name, *s);
    else
      fail("{}: field '{}' must be a number, string or boolean, got {}", where, name, TomlFields::describe(node));
  }
}

// Parses TOML text, turning a syntax error into an Error with the line and column.
inline toml::table parse_toml(const std::string& text, const std::string& where) {
  try {
    return toml::parse(text, where);
  } catch (const toml::parse_error& e) {
    fail("{}: line {}, column {}: {}", where, e.source().begin.line, e.source().begin.column, e.description());
  }
}

}  // namespace bioprop
