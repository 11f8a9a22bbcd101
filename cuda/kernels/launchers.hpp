#pragma once
// Declarations of the kernel launchers defined in cuda/kernels/*.cuh and compiled by nvcc in
// cuda/kernels.cu, for host code built by the host compiler (the CUDA backend). Keep in step with
// the .cuh files: a mismatch shows up as an undefined symbol at link time.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "bioprop/backend.hpp"
#include "kernel_types.hpp"

namespace bioprop::kernels {

void activation_forward(Activation f, const float* a, float* h, size_t n, cudaStream_t stream);
void activation_backward(Activation f, const float* a, const float* h, const float* dh, float* da, size_t n,
                         cudaStream_t stream);
void scale_samples(const float* x, const float* scale, float alpha, float* out, size_t batch, size_t sample,
                   cudaStream_t stream);
// Per-trial draws start at element `first` of their stream (the rank's place in the global batch).
void random_normal(float* x, size_t n, float mean, float stddev, uint64_t seed, uint64_t offset, uint64_t first,
                   cudaStream_t stream);
void random_uniform(float* x, size_t n, float low, float high, uint64_t seed, uint64_t offset, cudaStream_t stream);
void multiply_by_noise(float* x, size_t n, float stddev, uint64_t seed, uint64_t offset, cudaStream_t stream);
void sign(const float* x, float scale, float* out, size_t n, cudaStream_t stream);
void clamp_to_signs(float* w, const float* signs, size_t n, cudaStream_t stream);
void dropout_mask(float* mask, size_t n, float rate, uint64_t seed, uint64_t offset, uint64_t first,
                  cudaStream_t stream);
void multiply(const float* a, const float* b, float* out, size_t n, cudaStream_t stream);
void linear_combination(float alpha, const float* x, float beta, const float* y, float gamma, const float* z,
                        float* out, size_t n, cudaStream_t stream);
void feedback_projection(const float* e, const float* b, int rows, int classes, int width,
                         const ProjectionTarget* targets, int count, cudaStream_t stream);
void fill(float* x, float value, size_t n, cudaStream_t stream);

void locally_connected_forward(const float* x, const float* w, float* y, const WindowGeometry& g, cudaStream_t stream,
                               unsigned position_block_cap);
void locally_connected_backward_data(const float* dy, const float* w, float* dx, const WindowGeometry& g,
                                     cudaStream_t stream);
void locally_connected_backward_weight(const float* dy, const float* x, const float* modulator, float alpha, float beta,
                                       float* dw, const WindowGeometry& g, cudaStream_t stream,
                                       unsigned position_block_cap);
void dense_three_factor_update(const float* tags, const float* pre, const float* modulator, float alpha, float beta,
                               float* dw, int batch, int outputs, int inputs, cudaStream_t stream);

void attention_gate(const float* q, const float* labels, int batch, int actions, const ExplorationPolicy& policy,
                    uint64_t seed, uint64_t offset, uint64_t first_trial, float* chosen, float* rewards, float* rpe,
                    float* greedy_correct, float* tags, cudaStream_t stream);
void output_loss(OutputLoss kind, const float* z, const float* labels, int batch, int classes, float* d,
                 float* row_loss, float* correct, cudaStream_t stream);
void add_bias(float* y, const float* bias, size_t inner, size_t count, size_t n, cudaStream_t stream);
void bias_grad(const float* dy, size_t inner, size_t count, size_t batch, float beta, float* dbias,
               cudaStream_t stream);
// `workspace`: batch_norm_workspace(l) device doubles (kernel_types.hpp).
void batch_norm_statistics(const float* x, const ChannelLayout& l, float* mean, float* variance, double* workspace,
                           cudaStream_t stream);
void batch_norm_sums(const float* dy, const float* x, const ChannelLayout& l, const float* mean, const float* variance,
                     float epsilon, float accumulate, float* sum_dy_xhat, float* sum_dy, double* workspace,
                     cudaStream_t stream);
void batch_norm_forward(const float* x, const ChannelLayout& l, const float* mean, const float* variance, float epsilon,
                        const float* gamma, const float* beta, float* y, cudaStream_t stream);
void batch_norm_backward_data(const float* dy, const float* x, const ChannelLayout& l, const float* mean,
                              const float* variance, float epsilon, const float* gamma, const float* sum_dy_xhat,
                              const float* sum_dy, float* dx, cudaStream_t stream);
void reduce(Reduction kind, const float* a, const float* b, size_t n, double* workspace, cudaStream_t stream);
void dendrite_step(const DendriteArrays& arrays, size_t n, uint64_t seed, uint64_t offset, uint64_t first,
                   cudaStream_t stream);
void sgd_step(float* w, const float* g, float* v, const SgdSettings& s, size_t n, cudaStream_t stream);
void adam_step(float* w, const float* g, float* m, float* v, const AdamSettings& s, int step, size_t n,
               cudaStream_t stream);

}  // namespace bioprop::kernels
