// nvcc compiles the hand-written kernels here; the emulation tests compile the same headers with the
// host compiler (tests/emulation). The CUDA backend that calls them is issue 4's next step.
#include "kernels/attention_gate.cuh"
#include "kernels/elementwise.cuh"
#include "kernels/locally_connected.cuh"
#include "kernels/losses.cuh"
#include "kernels/optimizers.cuh"
#include "kernels/reductions.cuh"
#include "kernels/three_factor.cuh"
