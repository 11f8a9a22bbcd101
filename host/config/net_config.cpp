// Nets from TOML: a list of [[layer]] tables; a dense readout with one unit per class is appended.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bioprop/builtin_nets.hpp"
#include "bioprop/config.hpp"
#include "toml_fields.hpp"

namespace bioprop {

NetSource load_net_source(const std::string& name_or_path) try {
  for (const BuiltinNet& net : builtin_nets())
    if (net.name == name_or_path) return {net.name, "built-in net '" + net.name + "'", net.toml};
  if (name_or_path.find('/') == std::string::npos && name_or_path.find(".toml") == std::string::npos) {
    std::string known;
    for (const BuiltinNet& net : builtin_nets()) known += (known.empty() ? "" : ", ") + net.name;
    fail("unknown net '{}' (built-in nets: {}; or give the path of a .toml net file)", name_or_path, known);
  }
  std::ifstream file(name_or_path);
  if (!file) fail("cannot open net file {}", name_or_path);
  std::stringstream text;
  text << file.rdbuf();
  return {std::filesystem::path(name_or_path).stem().string(), name_or_path, text.str()};
} catch (const Error&) {
  throw;
} catch (const std::exception& e) {  // a library's exception or bad_alloc: still a clear error
  fail("{}: {}", name_or_path, e.what());
}

std::string net_description(const NetSource& source) {
  const toml::table table = parse_toml(source.text, source.origin);
  return table["description"].value_or(std::string{});
}

namespace {

Activation parse_activation(const std::string& name, const std::string& where) {
  if (name == "relu") return Activation::relu;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "tanh") return Activation::tanh;
  if (name == "softplus") return Activation::softplus;
  fail("{}: unknown activation '{}' (relu, sigmoid, tanh, softplus)", where, name);
}

InitKind parse_init(const std::string& name, const std::string& where) {
  if (name == "he") return InitKind::he;
  if (name == "glorot") return InitKind::glorot;
  if (name == "normal") return InitKind::normal;
  fail("{}: unknown init '{}' (he, glorot, normal)", where, name);
}

int positive_field(TomlFields& fields, const std::string& key, int fallback) {
  const int value = fields.get<int>(key, fallback);
  if (value < 1) fail("{}: field '{}' must be at least 1, got {}", fields.where(), key, value);
  return value;
}

// Appends the layer(s) one [[layer]] table describes: the layer itself and, if it names one, its activation.
void add_layer(const toml::table& table, const std::string& where, bool default_bias,
               std::vector<std::unique_ptr<Layer>>& layers) {
  TomlFields fields(table, where);
  const std::string type = fields.get<std::string>("type", "");
  if (type.empty()) fail("{}: missing field 'type'", where);
  const bool bias = fields.get<bool>("bias", default_bias);
  if (type == "dense") {
    layers.push_back(make_dense(positive_field(fields, "units", 0), bias));
  } else if (type == "conv2d" || type == "locally_connected2d") {
    const int channels = positive_field(fields, "channels", 0), kernel = positive_field(fields, "kernel", 0);
    const int stride = positive_field(fields, "stride", 1), padding = fields.get<int>("padding", 0);
    if (padding < 0) fail("{}: field 'padding' must be >= 0, got {}", where, padding);
    layers.push_back(type == "conv2d" ? make_conv2d(channels, kernel, stride, padding, bias)
                                      : make_locally_connected2d(channels, kernel, stride, padding, bias));
  } else if (type == "max_pool2d" || type == "avg_pool2d") {
    const int kernel = positive_field(fields, "kernel", 2), stride = positive_field(fields, "stride", kernel);
    layers.push_back(type == "max_pool2d" ? make_max_pool2d(kernel, stride) : make_avg_pool2d(kernel, stride));
  } else if (type == "dropout") {
    const double rate = fields.get<double>("rate", 0.5);
    if (rate < 0 || rate >= 1) fail("{}: field 'rate' must be in [0, 1), got {}", where, rate);
    layers.push_back(make_dropout(static_cast<float>(rate)));
  } else if (type == "batch_norm") {
    const double momentum = fields.get<double>("momentum", 0.99), epsilon = fields.get<double>("epsilon", 1e-3);
    if (momentum < 0 || momentum >= 1) fail("{}: field 'momentum' must be in [0, 1), got {}", where, momentum);
    if (!(epsilon > 0)) fail("{}: field 'epsilon' must be > 0, got {}", where, epsilon);
    layers.push_back(make_batch_norm(static_cast<float>(momentum), static_cast<float>(epsilon)));
  } else if (type == "flatten") {
    layers.push_back(make_flatten());
  } else if (type == "relu" || type == "sigmoid" || type == "tanh" || type == "softplus") {
    layers.push_back(make_activation(parse_activation(type, where)));
  } else {
    fail(
        "{}: unknown layer type '{}' (dense, conv2d, locally_connected2d, max_pool2d, avg_pool2d, dropout, "
        "batch_norm, flatten, relu, sigmoid, tanh, softplus)",
        where, type);
  }
  const std::string activation = fields.get<std::string>("activation", "");
  if (!activation.empty())
    layers.push_back(make_activation(parse_activation(activation, where + ", field 'activation'")));
  fields.check_no_unknown_keys();
}

}  // namespace

std::unique_ptr<Network> build_network(const NetSource& source, const Shape& sample, int classes, uint64_t seed,
                                       Backend& backend, const NetOverrides& overrides) try {
  const toml::table table = parse_toml(source.text, source.origin);
  TomlFields fields(table, source.origin);
  fields.get<std::string>("description", "");
  Initializer init;
  const std::string init_kind = fields.get<std::string>("init", "he");
  init.kind = parse_init(overrides.init.empty() ? init_kind : overrides.init, source.origin);
  init.stddev = static_cast<float>(fields.get<double>("init_std", 0.01));
  // The BrainProp reference std of this net: what an experiment asking for "normal" without a std gets.
  const double reference_std = fields.get<double>("reference_init_std", 0.005);
  if (!(reference_std > 0)) fail("{}: reference_init_std must be > 0, got {}", source.origin, reference_std);
  if (overrides.init_std > 0)
    init.stddev = static_cast<float>(overrides.init_std);
  else if (overrides.init == "normal")
    init.stddev = static_cast<float>(reference_std);
  init.seed = seed;
  const bool bias = overrides.bias.value_or(fields.get<bool>("bias", true));
  const toml::array* layer_tables = fields.array("layer");
  if (!layer_tables || layer_tables->empty()) fail("{}: no [[layer]] tables", source.origin);
  fields.check_no_unknown_keys();

  std::vector<std::unique_ptr<Layer>> layers;
  int number = 0;
  for (const toml::node& node : *layer_tables) {
    const std::string where =
        fmt::format("{}: [[layer]] #{} ({})", source.origin, ++number, TomlFields::location(node));
    if (!node.is_table()) fail("{}: must be a table", where);
    add_layer(*node.as_table(), where, bias, layers);
  }
  layers.push_back(make_dense(classes, bias));  // the readout: one output per class
  return std::make_unique<Network>(std::move(layers), sample, init, backend, source.name);
} catch (const Error& e) {  // a net that does not fit its input or the machine: name the file too
  if (std::string_view(e.what()).find(source.origin) != std::string_view::npos) throw;
  fail("{}: {}", source.origin, e.what());
} catch (const std::exception& e) {  // a library's exception or bad_alloc: still a clear error
  fail("{}: {}", source.origin, e.what());
}

}  // namespace bioprop
