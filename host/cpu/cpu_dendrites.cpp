// CpuBackend's segregated-dendrite step: dendrite_math.hpp's element function over the batch, each
// element's spike count from its own Philox draw (the numbers the CUDA kernel draws).
#include <algorithm>

#include "bioprop/rng.hpp"
#include "cpu_backend.hpp"
#include "fma_clones.hpp"
#include "philox_fill.hpp"

namespace bioprop {

namespace {
// Without FMA instructions every fmaf() of the element function is a call into libm: a tenth of a
// training step at batch 1.
BIOPROP_WITH_AND_WITHOUT_FMA void dendrite_elements(const DendriteArrays& arrays, size_t total, uint64_t seed,
                                                    uint64_t offset) {
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < philox_chunks(total); ++c)
    for_each_element_of_philox_chunk(c, total, seed, offset, [&](size_t i, const PhiloxBlock& words, unsigned lane) {
      dendrite_element(arrays, i, uniform_from_bits(words[lane]));
    });
}
}  // namespace

void CpuBackend::dendrite_step(const DendriteStep& step) {
  dendrite_elements(dendrite_arrays(step), step.drive->numel(), step.seed, step.offset);
}

}  // namespace bioprop
