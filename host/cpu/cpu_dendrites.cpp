// CpuBackend's segregated-dendrite step: dendrite_math.hpp's element function over the batch, each
// element's spike count from its own Philox draw (the numbers the CUDA kernel draws).
#include "cpu_backend.hpp"
#include "philox_fill.hpp"

namespace bioprop {

void CpuBackend::dendrite_step(const DendriteStep& step) {
  const DendriteArrays arrays = dendrite_arrays(step);
  for_each_philox_element(step.drive->numel(), step.seed, step.offset,
                          [&](size_t i, const PhiloxBlock& words, unsigned lane) {
                            dendrite_element(arrays, i, uniform_from_bits(words[lane]));
                          });
}

}  // namespace bioprop
