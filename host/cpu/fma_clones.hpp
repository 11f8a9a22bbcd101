#pragma once
// BIOPROP_WITH_AND_WITHOUT_FMA: compiles a function twice, with and without FMA instructions, and
// picks one at load time for the machine. The element functions shared with the CUDA kernels round
// with fmaf() (fused_math.hpp) so both give the same bits; without FMA instructions in the build (it
// targets plain x86-64) every fmaf() is a call into libm, which made the SGD step a fifth of a conv
// net's training step. Put it on plain (non-template) functions: GCC clones only those.
#if defined(__x86_64__) && defined(__GNUC__)
#define BIOPROP_WITH_AND_WITHOUT_FMA __attribute__((target_clones("fma", "default")))
#else
#define BIOPROP_WITH_AND_WITHOUT_FMA
#endif
