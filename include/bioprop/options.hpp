#pragma once
// Options: a small typed key/value bag for the settings of a rule or optimiser, filled from a TOML
// table or command-line flags. Reading a key marks it used; check_all_used() then rejects typos.
#include <map>
#include <set>
#include <string>
#include <variant>

namespace bioprop {

class Options {
 public:
  using Value = std::variant<bool, long long, double, std::string>;

  explicit Options(std::string where = "options") : where_(std::move(where)) {}
  void set(const std::string& key, Value value) { values_[key] = std::move(value); }
  bool has(const std::string& key) const { return values_.count(key) != 0; }

  double get_number(const std::string& key, double fallback);
  long long get_integer(const std::string& key, long long fallback);
  // An integer that must fit an int (a count, a layer index): a larger one is an error, not a truncation.
  int get_int(const std::string& key, int fallback);
  bool get_bool(const std::string& key, bool fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  // Throws Error naming every key that no one read.
  void check_all_used() const;
  const std::string& where() const { return where_; }
  // Every key with its value (for records of a run's settings).
  const std::map<std::string, Value>& values() const { return values_; }

 private:
  std::string where_;
  std::map<std::string, Value> values_;
  std::set<std::string> used_;
};

}  // namespace bioprop
