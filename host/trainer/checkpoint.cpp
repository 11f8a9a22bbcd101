// Checkpoint format, version 3: "BIOPROP-CKPT-3\n", the byte length of the JSON record (8 bytes, little
// endian), the record, then for every parameter in record["parameters"] order its float32 values, then
// the CRC32 (zlib) of everything before it (4 bytes, little endian). Version 1 had no checksum;
// version 2 no random-stream positions or position in the epoch (record field "run_state").
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string_view>

#include "bioprop/checked_size.hpp"
#include "bioprop/error.hpp"
#include "bioprop/json_fields.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

namespace {
constexpr char magic_prefix[] = "BIOPROP-CKPT-";
constexpr char magic[] = "BIOPROP-CKPT-3\n";
constexpr size_t magic_size = sizeof(magic) - 1;
constexpr int format_version = 3;

uint32_t checksum(const char* data, size_t bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (bytes > 0) {  // zlib takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<size_t>(bytes, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    bytes -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

// The whole file is read and its checksum checked before anything in it is believed.
struct CheckpointReader {
  explicit CheckpointReader(const std::string& path) : path_(path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open checkpoint {}", path);
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    const size_t prefix = sizeof(magic_prefix) - 1;
    if (bytes_.size() < magic_size || bytes_.compare(0, prefix, magic_prefix) != 0)
      fail("{} is not a bioprop checkpoint (bad header)", path);
    if (bytes_.compare(0, magic_size, magic) != 0) {
      const std::string version = bytes_.substr(prefix, bytes_.find('\n', prefix) - prefix);
      fail(
          "{}: checkpoint format version {}; this bioprop reads version {} only (earlier versions lack the "
          "checksum or the state an exact resume needs: train again to get one)",
          path, version.substr(0, 16), format_version);
    }
    if (bytes_.size() < magic_size + sizeof(uint64_t) + sizeof(uint32_t))
      fail("{}: truncated checkpoint while reading the record length", path);
    uint32_t stored = 0;
    std::memcpy(&stored, bytes_.data() + bytes_.size() - sizeof stored, sizeof stored);
    if (checksum(bytes_.data(), bytes_.size() - sizeof stored) != stored)
      fail("{}: bad checksum: the checkpoint is damaged or truncated", path);
    end_ = bytes_.size() - sizeof stored;
    position_ = magic_size;
    uint64_t length = 0;
    read(&length, sizeof length, "the record length");
    if (length > (64u << 20)) fail("{}: corrupt checkpoint (record of {} bytes)", path, length);
    std::string text(length, '\0');
    read(text.data(), length, "the record");
    try {
      record = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: corrupt checkpoint record: {}", path, e.what());
    }
    if (!record.is_object()) fail("{}: corrupt checkpoint record: not a JSON object", path);
  }
  void read(void* out, size_t bytes, std::string_view what) {
    skip(bytes, what);
    std::memcpy(out, bytes_.data() + position_ - bytes, bytes);
  }
  void skip(size_t bytes, std::string_view what) {
    if (bytes > end_ - position_) fail("{}: truncated checkpoint while reading {}", path_, what);
    position_ += bytes;
  }
  std::string path_, bytes_;
  size_t position_ = 0, end_ = 0;
  nlohmann::json record;
};
// The net's parameters and its non-trained state (batch norm's running statistics).
std::vector<Parameter*> saved_with_net(Network& network) {
  std::vector<Parameter*> all = network.parameters();
  for (Parameter* p : network.state()) all.push_back(p);
  return all;
}
}  // namespace

void save_checkpoint(const std::string& path, Network& network, Backend& backend, const nlohmann::json& record,
                     const std::vector<Parameter*>& extra) {
  std::vector<Parameter*> parameters = saved_with_net(network);
  parameters.insert(parameters.end(), extra.begin(), extra.end());
  nlohmann::json full = record;
  full["parameters"] = nlohmann::json::array();
  for (Parameter* p : parameters) full["parameters"].push_back({{"name", p->name}, {"shape", p->value.shape().dims()}});
  const std::string text = full.dump();
  std::string bytes(magic, magic_size);
  const uint64_t length = text.size();
  bytes.append(reinterpret_cast<const char*>(&length), sizeof length);
  bytes += text;
  for (Parameter* p : parameters) {
    const Tensor host = backend.to_host(p->value);
    bytes.append(reinterpret_cast<const char*>(host.data()), host.numel() * sizeof(float));
  }
  const uint32_t crc = checksum(bytes.data(), bytes.size());
  bytes.append(reinterpret_cast<const char*>(&crc), sizeof crc);
  write_file_atomically(path, bytes);
}

nlohmann::json read_checkpoint_record(const std::string& path) try {
  return CheckpointReader(path).record;
} catch (const Error&) {
  throw;
} catch (const std::exception& e) {  // bad_alloc for a file too big to hold: still a clear error
  fail("{}: {}", path, e.what());
}

std::vector<SavedParameter> checkpoint_parameters(const nlohmann::json& record, const std::string& path) {
  const nlohmann::json list = json_field<nlohmann::json>(record, "parameters", path);
  if (!list.is_array()) fail("{}: field 'parameters' must be an array", path);
  std::vector<SavedParameter> parameters;
  for (size_t k = 0; k < list.size(); ++k) {
    const std::string where = fmt::format("{} parameters[{}]", path, k);
    SavedParameter p;
    p.name = json_field<std::string>(list[k], "name", where);
    const nlohmann::json dims = json_field<nlohmann::json>(list[k], "shape", where);
    if (!dims.is_array() || dims.empty() || dims.size() > 8)
      fail("{}: field 'shape' must be a list of 1 to 8 dimensions, got {}", where, dims.dump());
    std::vector<int> shape;
    for (size_t axis = 0; axis < dims.size(); ++axis)
      shape.push_back(json_value<int>(dims[axis], where, fmt::format("shape[{}]", axis)));
    p.numel = checked_numel(shape, where + " shape");  // also refuses negative dimensions
    p.shape = Shape(std::move(shape));
    parameters.push_back(std::move(p));
  }
  return parameters;
}

void load_checkpoint_weights(const std::string& path, Network& network, Backend& backend,
                             const std::vector<Parameter*>& extra) try {
  CheckpointReader reader(path);
  // Parameters are matched by name; the checkpoint may hold more (a rule's learned feedback weights,
  // which evaluation does not need), but every parameter of the net must be there with its shape,
  // which is checked before anything is allocated.
  std::map<std::string, Parameter*> wanted;
  for (Parameter* p : saved_with_net(network)) wanted[p->name] = p;
  for (Parameter* p : extra) wanted[p->name] = p;
  std::set<std::string> found;
  for (const SavedParameter& saved : checkpoint_parameters(reader.record, path)) {
    const size_t bytes = checked_multiply(saved.numel, sizeof(float), path);
    auto it = wanted.find(saved.name);
    if (it == wanted.end()) {
      reader.skip(bytes, saved.name);
      continue;
    }
    if (it->second->value.shape() != saved.shape)
      fail("{}: parameter {} has shape {}, the net expects {}", path, saved.name, saved.shape.str(),
           it->second->value.shape().str());
    if (!found.insert(saved.name).second) fail("{}: parameter {} is saved twice", path, saved.name);
    Tensor host(saved.shape);
    reader.read(host.data(), bytes, saved.name);
    backend.copy(backend.to_device(host), it->second->value);
  }
  if (found.size() != wanted.size()) {
    std::string missing;
    for (const auto& [name, p] : wanted)
      if (found.count(name) == 0) missing += (missing.empty() ? "" : ", ") + name;
    fail("{}: the checkpoint lacks parameter(s) {} of this net", path, missing);
  }
} catch (const Error&) {
  throw;
} catch (const std::exception& e) {  // a library's exception or bad_alloc: still a clear error
  fail("{}: {}", path, e.what());
}

std::vector<std::pair<std::string, Tensor>> read_checkpoint_tensors(const std::string& path) try {
  CheckpointReader reader(path);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const SavedParameter& saved : checkpoint_parameters(reader.record, path)) {
    Tensor host(saved.shape);
    reader.read(host.data(), checked_multiply(saved.numel, sizeof(float), path), saved.name);
    tensors.emplace_back(saved.name, std::move(host));
  }
  return tensors;
} catch (const Error&) {
  throw;
} catch (const std::exception& e) {
  fail("{}: {}", path, e.what());
}

}  // namespace bioprop
