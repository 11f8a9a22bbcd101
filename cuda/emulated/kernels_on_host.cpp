// The hand-written kernels and their launchers, compiled by the host compiler for the emulated device:
// the same translation unit nvcc builds (cuda/kernels.cu), with the launchers defined out of line so
// CudaBackend links against them as it does against the nvcc-built ones.
#define BIOPROP_KERNELS_TRANSLATION_UNIT 1
#include "../kernels.cu"
