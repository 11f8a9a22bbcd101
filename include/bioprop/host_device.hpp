#pragma once
// BIOPROP_HD marks functions that both the CPU reference and the CUDA kernels call, so one definition
// of the math serves both (nvcc: __host__ __device__; host compilers and the emulation: nothing).
#if defined(__CUDACC__)
#define BIOPROP_HD __host__ __device__
#else
#define BIOPROP_HD
#endif
