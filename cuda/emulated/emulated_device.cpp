#include "emulated_device.hpp"

#include "device_state.hpp"

namespace bioprop::emulated {

void set_memory_size(size_t bytes) {
  std::lock_guard lock(DeviceState::get().mutex);
  DeviceState::get().set_memory_size(bytes);
}
size_t memory_size() {
  std::lock_guard lock(DeviceState::get().mutex);
  return DeviceState::get().memory_size();
}
size_t pending_operations() {
  std::lock_guard lock(DeviceState::get().mutex);
  return DeviceState::get().pending_operations();
}
void clear_fault() {
  std::lock_guard lock(DeviceState::get().mutex);
  DeviceState::get().clear_sticky_error();
  cudaGetLastError();
}

}  // namespace bioprop::emulated
