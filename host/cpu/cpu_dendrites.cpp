// CpuBackend's segregated-dendrite step: dendrite_math.hpp's element function over the batch, each
// element's spike count from its own Philox draw (the numbers the CUDA kernel draws).
#include <algorithm>

#include "bioprop/rng.hpp"
#include "cpu_backend.hpp"

namespace bioprop {

namespace {
#if defined(__x86_64__) && defined(__GNUC__)
#define BIOPROP_WITH_AND_WITHOUT_FMA __attribute__((target_clones("fma", "default")))
#else
#define BIOPROP_WITH_AND_WITHOUT_FMA
#endif

// Compiled twice, with and without FMA instructions, and picked at load time for the machine: without them
// every fmaf() of the element function is a call into libm, a tenth of a training step at batch 1.
BIOPROP_WITH_AND_WITHOUT_FMA void dendrite_elements(const DendriteArrays& arrays, size_t total, uint64_t seed,
                                                    uint64_t offset) {
  const size_t blocks = (total + 3) / 4;
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t b = 0; b < blocks; ++b) {
    const PhiloxBlock words = philox_block(seed, offset + b);
    const size_t first = 4 * b, last = std::min(total, first + 4);
    for (size_t i = first; i < last; ++i) dendrite_element(arrays, i, uniform_from_bits(words[i - first]));
  }
}
}  // namespace

void CpuBackend::dendrite_step(const DendriteStep& step) {
  dendrite_elements(dendrite_arrays(step), step.drive->numel(), step.seed, step.offset);
}

}  // namespace bioprop
