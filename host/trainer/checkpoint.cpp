// Checkpoint format: "BIOPROP-CKPT-1\n", the byte length of the JSON record (8 bytes, little endian),
// the record, then for every parameter in record["parameters"] order its float32 values.
#include <cstring>
#include <fstream>

#include "bioprop/error.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

namespace {
constexpr char magic[] = "BIOPROP-CKPT-1\n";
constexpr size_t magic_size = sizeof(magic) - 1;

struct CheckpointReader {
  explicit CheckpointReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) fail("cannot open checkpoint {}", path);
    char header[magic_size];
    read(header, magic_size, "the header");
    if (std::memcmp(header, magic, magic_size) != 0) fail("{} is not a bioprop checkpoint (bad header)", path);
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
    in_.read(static_cast<char*>(out), static_cast<std::streamsize>(bytes));
    if (static_cast<size_t>(in_.gcount()) != bytes) fail("{}: truncated checkpoint while reading {}", path_, what);
  }
  std::string path_;
  std::ifstream in_;
  nlohmann::json record;
};
}  // namespace

void save_checkpoint(const std::string& path, Network& network, Backend& backend, const nlohmann::json& record) {
  nlohmann::json full = record;
  full["parameters"] = nlohmann::json::array();
  for (Parameter* p : network.parameters())
    full["parameters"].push_back({{"name", p->name}, {"shape", p->value.shape().dims()}});
  const std::string text = full.dump();
  std::string bytes(magic, magic_size);
  const uint64_t length = text.size();
  bytes.append(reinterpret_cast<const char*>(&length), sizeof length);
  bytes += text;
  for (Parameter* p : network.parameters()) {
    const Tensor host = backend.to_host(p->value);
    bytes.append(reinterpret_cast<const char*>(host.data()), host.numel() * sizeof(float));
  }
  write_file_atomically(path, bytes);
}

nlohmann::json read_checkpoint_record(const std::string& path) { return CheckpointReader(path).record; }

void load_checkpoint_weights(const std::string& path, Network& network, Backend& backend) {
  CheckpointReader reader(path);
  const auto& saved = reader.record.at("parameters");
  const auto parameters = network.parameters();
  if (saved.size() != parameters.size())
    fail("{}: holds {} parameter tensors, the net has {}", path, saved.size(), parameters.size());
  for (size_t i = 0; i < parameters.size(); ++i) {
    Parameter& p = *parameters[i];
    const std::string name = saved[i].at("name");
    const std::vector<int> dims = saved[i].at("shape");
    if (name != p.name || Shape(dims) != p.value.shape())
      fail("{}: parameter {} is {} {}, the net expects {} {}", path, i, name, Shape(dims).str(), p.name,
           p.value.shape().str());
    Tensor host(p.value.shape());
    reader.read(host.data(), host.numel() * sizeof(float), p.name.c_str());
    backend.copy(backend.to_device(host), p.value);
  }
}

}  // namespace bioprop
