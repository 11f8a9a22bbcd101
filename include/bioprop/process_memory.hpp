#pragma once
// This process's resident memory on Linux (/proc/self): what `bioprop bench` reports as a step's host
// memory, measured the same way as bench/peers/train_step_pytorch.py measures PyTorch's.
#include <cstddef>

namespace bioprop {

// Starts a new peak from the current resident size (writes 5 to /proc/self/clear_refs); returns false
// where the kernel does not allow it, and the peak then counts from the process's start.
bool reset_peak_resident_memory();
// The largest resident size since the last reset (VmHWM), in bytes; 0 where /proc is not readable.
size_t peak_resident_bytes();

}  // namespace bioprop
