// Checkpoint format, version 2: "BIOPROP-CKPT-2\n", the byte length of the JSON record (8 bytes, little
// endian), the record, then for every parameter in record["parameters"] order its float32 values, then
// the CRC32 (zlib) of everything before it (4 bytes, little endian). Version 1 had no checksum.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include "bioprop/error.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

namespace {
constexpr char magic_prefix[] = "BIOPROP-CKPT-";
constexpr char magic[] = "BIOPROP-CKPT-2\n";
constexpr size_t magic_size = sizeof(magic) - 1;
constexpr int format_version = 2;

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
          "{}: checkpoint format version {}; this bioprop reads version {} (a version 1 file predates "
          "checksums: train again to get one)",
          path, version, format_version);
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
  }
  void read(void* out, size_t bytes, const char* what) {
    if (bytes > end_ - position_) fail("{}: truncated checkpoint while reading {}", path_, what);
    std::memcpy(out, bytes_.data() + position_, bytes);
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

nlohmann::json read_checkpoint_record(const std::string& path) { return CheckpointReader(path).record; }

void load_checkpoint_weights(const std::string& path, Network& network, Backend& backend,
                             const std::vector<Parameter*>& extra) {
  CheckpointReader reader(path);
  // Parameters are matched by name; the checkpoint may hold more (a rule's learned feedback weights,
  // which evaluation does not need), but every parameter of the net must be there with its shape.
  std::map<std::string, Parameter*> wanted;
  for (Parameter* p : saved_with_net(network)) wanted[p->name] = p;
  for (Parameter* p : extra) wanted[p->name] = p;
  size_t found = 0;
  for (const auto& saved : reader.record.at("parameters")) {
    const std::string name = saved.at("name");
    const Shape shape(saved.at("shape").get<std::vector<int>>());
    Tensor host(shape);
    reader.read(host.data(), host.numel() * sizeof(float), name.c_str());
    auto it = wanted.find(name);
    if (it == wanted.end()) continue;
    if (it->second->value.shape() != shape)
      fail("{}: parameter {} has shape {}, the net expects {}", path, name, shape.str(),
           it->second->value.shape().str());
    backend.copy(backend.to_device(host), it->second->value);
    ++found;
  }
  if (found != wanted.size()) {
    std::string missing;
    for (const auto& [name, p] : wanted)
      if (std::none_of(reader.record.at("parameters").begin(), reader.record.at("parameters").end(),
                       [&](const nlohmann::json& s) { return s.at("name") == name; }))
        missing += (missing.empty() ? "" : ", ") + name;
    fail("{}: the checkpoint lacks parameter(s) {} of this net", path, missing);
  }
}

}  // namespace bioprop
