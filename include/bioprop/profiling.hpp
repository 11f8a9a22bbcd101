#pragma once
// NVTX ranges (nvtx3, header-only, from the CUDA toolkit) around the phases of training, so an
// Nsight Systems timeline or an `ncu --nvtx` filter reads at a glance: load, upload, forward and
// backward per layer, update, evaluate. Without a profiler attached each range costs a few
// nanoseconds (the NVTX calls are no-ops until a tool injects itself).
#include <nvtx3/nvToolsExt.h>

namespace bioprop {

class ProfileRange {
 public:
  explicit ProfileRange(const char* name) { nvtxRangePushA(name); }
  ~ProfileRange() { nvtxRangePop(); }
  ProfileRange(const ProfileRange&) = delete;
  ProfileRange& operator=(const ProfileRange&) = delete;
};

}  // namespace bioprop
