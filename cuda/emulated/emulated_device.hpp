#pragma once
// What tests may ask of the emulated device beyond the CUDA API (cuda/emulated/, built only for
// tests and the `bioprop-emulated` command).
#include <cstddef>

namespace bioprop::emulated {

// The device's memory size (default 16 GiB, or BIOPROP_EMULATED_DEVICE_MEMORY_MIB): lower it to reach
// out-of-memory paths.
void set_memory_size(size_t bytes);
size_t memory_size();
// Stream operations queued and not yet run (deferred execution).
size_t pending_operations();
// Clears a sticky fault, as a process restart would on a GPU: for tests that provoke one.
void clear_fault();

}  // namespace bioprop::emulated
