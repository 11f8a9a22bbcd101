#include "bioprop/device.hpp"

#include <charconv>

#include "bioprop/error.hpp"

namespace bioprop {

DeviceChoice choose_device(const std::string& request) {
  if (request == "cpu") return {Device::cpu, 0, "cpu"};  // without touching the CUDA driver
  const CudaDevices devices = cuda_devices();
  const int gpus = devices.count;
  if (request == "auto") {
    if (gpus == 0 && !devices.error.empty())
      return {Device::cpu, 0, "cpu (auto: CUDA unusable: " + devices.error + ")"};
    if (gpus == 0) return {Device::cpu, 0, "cpu (auto: no CUDA device found)"};
    return {Device::cuda, 0, fmt::format("cuda:0 ({}) (auto: {} CUDA device(s) found)", cuda_device_name(0), gpus)};
  }
  if (request.rfind("cuda", 0) == 0) {
    int index = 0;
    if (request.size() > 4) {
      const char* first = request.data() + 5;
      const char* last = request.data() + request.size();
      const auto [end, error] = std::from_chars(first, last, index);
      if (request[4] != ':' || first == last || end != last || error != std::errc() || index < 0)
        fail("--device '{}': expected auto, cpu, cuda or cuda:N with N a device index", request);
    }
    if (!devices.error.empty()) fail("--device '{}': CUDA unusable: {}", request, devices.error);
    if (index >= gpus) fail("--device '{}': only {} CUDA device(s) visible", request, gpus);
    return {Device::cuda, index, fmt::format("cuda:{} ({})", index, cuda_device_name(index))};
  }
  fail("--device '{}': expected auto, cpu, cuda or cuda:N", request);
}

std::unique_ptr<Backend> make_backend(const DeviceChoice& choice, bool tf32) {
  return choice.device == Device::cuda ? make_cuda_backend(choice.index, tf32) : make_cpu_backend();
}

}  // namespace bioprop
