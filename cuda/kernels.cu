// nvcc compiles the hand-written kernels and their launchers here (the only translation unit that
// includes the .cuh files); the emulation tests compile the same headers with the host compiler.
// launchers.hpp declares the launchers for the host-compiled CUDA backend.
#include "kernels/attention_gate.cuh"
#include "kernels/batch_norm.cuh"
#include "kernels/dendrites.cuh"
#include "kernels/elementwise.cuh"
#include "kernels/feedback_projection.cuh"
#include "kernels/launchers.hpp"
#include "kernels/locally_connected.cuh"
#include "kernels/losses.cuh"
#include "kernels/optimizers.cuh"
#include "kernels/reductions.cuh"
#include "kernels/three_factor.cuh"
