#include "bioprop/device.hpp"

#include <charconv>

#include "bioprop/error.hpp"

namespace bioprop {

DeviceChoice choose_device(const std::string& request) {
  const int gpus = cuda_device_count();
  if (request == "cpu") return {Device::cpu, 0, "cpu"};
  if (request == "auto") {
    // The CUDA backend arrives with issue 4; until then auto always trains on the CPU, and says why.
    if (gpus == 0) return {Device::cpu, 0, "cpu (auto: no CUDA device found)"};
    return {Device::cpu, 0,
            fmt::format("cpu (auto: {} CUDA device(s) found, but this build has no CUDA backend yet)", gpus)};
  }
  if (request.rfind("cuda", 0) == 0) {
    int index = 0;
    if (request.size() > 4) {
      const char* first = request.data() + 5;
      const char* last = request.data() + request.size();
      if (request[4] != ':' || std::from_chars(first, last, index).ptr != last || index < 0)
        fail("--device '{}': expected auto, cpu, cuda or cuda:N", request);
    }
    if (index >= gpus) fail("--device '{}': only {} CUDA device(s) visible", request, gpus);
    fail("--device '{}': this build has no CUDA backend yet; use --device cpu", request);
  }
  fail("--device '{}': expected auto, cpu, cuda or cuda:N", request);
}

}  // namespace bioprop
