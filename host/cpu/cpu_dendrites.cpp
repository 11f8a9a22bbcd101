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
// Elements e0 .. e0 + total, whose draws start at block `offset`.
BIOPROP_WITH_AND_WITHOUT_FMA void dendrite_elements(const DendriteArrays& arrays, size_t e0, size_t total,
                                                    uint64_t seed, uint64_t offset) {
#pragma omp parallel for if (total > parallel_threshold) schedule(static)
  for (size_t c = 0; c < philox_chunks(total); ++c)
    for_each_element_of_philox_chunk(c, total, seed, offset, [&](size_t i, const PhiloxBlock& words, unsigned lane) {
      dendrite_element(arrays, e0 + i, uniform_from_bits(words[lane]));
    });
}
}  // namespace

void CpuBackend::dendrite_step(const DendriteStep& step) {
  const DendriteArrays arrays = dendrite_arrays(step);
  draw_from_element(
      step.drive->numel(), step.offset, step.first,
      [&](size_t e, uint64_t index) { dendrite_element(arrays, e, philox_uniform(step.seed, step.offset, index)); },
      [&](size_t e0, size_t count, uint64_t block) { dendrite_elements(arrays, e0, count, step.seed, block); });
}

}  // namespace bioprop
