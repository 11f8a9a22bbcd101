// Experiment files: every key of TrainConfig, checked (see configs/default.toml).
#include <fstream>
#include <sstream>

#include "bioprop/config.hpp"
#include "toml_fields.hpp"

namespace bioprop {

namespace {
ComparisonConfig parse_comparison(const toml::table& table, const std::string& file) {
  const std::string where = file + " [compare]";
  TomlFields fields(table, where);
  ComparisonConfig c;
  if (const toml::array* rules = fields.array("rules")) {
    for (const toml::node& rule : *rules) {
      const auto text = rule.value_exact<std::string>();
      if (!text)
        fail("{}: field 'rules' must hold strings RULE[+KEY=VALUE...][=LR], got {}", where, TomlFields::describe(rule));
      c.rules.push_back(*text);
    }
    if (c.rules.empty()) fail("{}: field 'rules' is empty", where);
  }
  c.seeds = fields.get<int>("seeds", c.seeds);
  c.pack = fields.get<int>("pack", c.pack);
  c.out = fields.get<std::string>("out", c.out);
  fields.check_no_unknown_keys();
  if (table.contains("seeds") && c.seeds < 1) fail("{}: field 'seeds' must be at least 1, got {}", where, c.seeds);
  if (c.pack < 0) fail("{}: field 'pack' must be >= 0, got {}", where, c.pack);
  return c;
}
}  // namespace

TrainConfig parse_train_config(const std::string& text, const std::string& where) {
  const toml::table table = parse_toml(text, where);
  TomlFields fields(table, where);
  TrainConfig c;
  c.rule = fields.get<std::string>("rule", c.rule);
  c.net = fields.get<std::string>("net", c.net);
  c.net_overrides.init = fields.get<std::string>("init", c.net_overrides.init);
  c.net_overrides.init_std = fields.get<double>("init_std", c.net_overrides.init_std);
  if (table.contains("bias")) c.net_overrides.bias = fields.get<bool>("bias", true);
  c.data.name = fields.get<std::string>("dataset", c.data.name);
  c.data.data_dir = fields.get<std::string>("data_dir", c.data.data_dir);
  c.data.validation = fields.get<int>("validation", c.data.validation);
  c.data.train_limit = fields.get<int>("train_limit", c.data.train_limit);
  c.data.test_limit = fields.get<int>("test_limit", c.data.test_limit);
  c.epochs = fields.get<int>("epochs", c.epochs);
  c.batch_size = fields.get<int>("batch_size", c.batch_size);
  c.eval_batch_size = fields.get<int>("eval_batch_size", c.eval_batch_size);
  c.target_accuracy = fields.get<double>("target_accuracy", c.target_accuracy);
  c.stop_at_target = fields.get<bool>("stop_at_target", c.stop_at_target);
  c.device = fields.get<std::string>("device", c.device);
  const int seed = fields.get<int>("seed", static_cast<int>(c.seed));
  c.run_dir = fields.get<std::string>("run_dir", c.run_dir);
  c.checkpoint = fields.get<std::string>("checkpoint", c.checkpoint);
  c.resume = fields.get<std::string>("resume", c.resume);
  c.lr_step_epochs = fields.get<int>("lr_step_epochs", c.lr_step_epochs);
  c.lr_step_factor = fields.get<double>("lr_step_factor", c.lr_step_factor);
  c.patience = fields.get<int>("patience", c.patience);
  c.min_delta = fields.get<double>("min_delta", c.min_delta);
  c.augmentation.crop_padding = fields.get<int>("augment_crop", c.augmentation.crop_padding);
  c.augmentation.horizontal_flip = fields.get<bool>("augment_flip", c.augmentation.horizontal_flip);
  // Rule and optimiser settings are checked by the rule and optimiser that read them (make_rule,
  // make_optimizer): an unknown key there is reported with this file's name.
  c.rule_options = Options(where + " [rule_options]");
  if (const toml::table* rule = fields.table("rule_options"))
    fill_options(*rule, c.rule_options, c.rule_options.where());
  c.optimizer_options = Options(where + " [optimizer]");
  if (const toml::table* optimizer = fields.table("optimizer")) {
    fill_options(*optimizer, c.optimizer_options, c.optimizer_options.where());
    c.optimizer = c.optimizer_options.get_string("kind", c.optimizer);
  }
  if (const toml::table* compare = fields.table("compare")) c.comparison = parse_comparison(*compare, where);
  fields.check_no_unknown_keys();

  if (c.epochs < 1) fail("{}: field 'epochs' must be at least 1, got {}", where, c.epochs);
  if (c.batch_size < 1) fail("{}: field 'batch_size' must be at least 1, got {}", where, c.batch_size);
  if (c.eval_batch_size < 0)
    fail("{}: field 'eval_batch_size' must be 0 (the training batch) or more, got {}", where, c.eval_batch_size);
  if (seed < 0) fail("{}: field 'seed' must be >= 0, got {}", where, seed);
  if (c.lr_step_epochs < 0) fail("{}: field 'lr_step_epochs' must be >= 0, got {}", where, c.lr_step_epochs);
  if (!(c.lr_step_factor > 0)) fail("{}: field 'lr_step_factor' must be > 0, got {}", where, c.lr_step_factor);
  if (c.patience < 0) fail("{}: field 'patience' must be >= 0, got {}", where, c.patience);
  if (c.augmentation.crop_padding < 0)
    fail("{}: field 'augment_crop' must be >= 0, got {}", where, c.augmentation.crop_padding);
  if (c.target_accuracy < 0 || c.target_accuracy > 1)
    fail("{}: field 'target_accuracy' must be a fraction in [0, 1], got {}", where, c.target_accuracy);
  c.seed = static_cast<uint64_t>(seed);
  return c;
}

TrainConfig load_train_config(const std::string& path) try {
  std::ifstream file(path);
  if (!file) fail("cannot open config file {}", path);
  std::stringstream text;
  text << file.rdbuf();
  return parse_train_config(text.str(), path);
} catch (const Error&) {
  throw;
} catch (const std::exception& e) {  // a library's exception or bad_alloc: still a clear error
  fail("{}: {}", path, e.what());
}

}  // namespace bioprop
