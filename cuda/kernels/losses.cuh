#pragma once
// Output losses, one thread per trial: the per-trial loss goes to row_loss (summed afterwards by
// reduce()), the gradient with respect to the outputs to d, already divided by the batch size as the
// CPU reference does. Also the correct-answer flags for accuracy, and the bias broadcast.
#include "bioprop/cuda_launch.hpp"
#include "kernel_types.hpp"

namespace bioprop::kernels {

__global__ void output_loss_kernel(OutputLoss kind, const float* __restrict__ z, const float* __restrict__ labels,
                                   int batch, int classes, float* __restrict__ d, float* __restrict__ row_loss,
                                   float* __restrict__ correct) {
  const int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (n >= batch) return;
  const float* zn = z + static_cast<size_t>(n) * classes;
  float* dn = d ? d + static_cast<size_t>(n) * classes : nullptr;  // null for accuracy_only
  const float inverse_batch = 1.0f / static_cast<float>(batch);
  int best = 0;
  for (int k = 1; k < classes; ++k)
    if (zn[k] > zn[best]) best = k;
  if (kind == OutputLoss::regression) {
    const float error = zn[0] - labels[n];
    row_loss[n] = 0.5f * error * error;
    dn[0] = error * inverse_batch;
    correct[n] = 0.0f;
    return;
  }
  const int label = static_cast<int>(labels[n]);
  correct[n] = best == label ? 1.0f : 0.0f;
  if (kind == OutputLoss::accuracy_only) return;
  if (kind == OutputLoss::mean_squared_error) {
    float loss = 0.0f;
    for (int k = 0; k < classes; ++k) {
      const float error = zn[k] - (k == label ? 1.0f : 0.0f);
      loss += 0.5f * error * error;
      dn[k] = error * inverse_batch;
    }
    row_loss[n] = loss;
    return;
  }
  // softmax cross-entropy through log-sum-exp, shifted by the maximum
  const float top = zn[best];
  float sum = 0.0f;
  for (int k = 0; k < classes; ++k) sum += expf(zn[k] - top);
  row_loss[n] = logf(sum) - (zn[label] - top);
  for (int k = 0; k < classes; ++k) dn[k] = (expf(zn[k] - top) / sum - (k == label ? 1.0f : 0.0f)) * inverse_batch;
}

BIOPROP_LAUNCHER void output_loss(OutputLoss kind, const float* z, const float* labels, int batch, int classes,
                                  float* d, float* row_loss, float* correct, cudaStream_t stream) {
  launch<output_loss_kernel>(dim3(blocks_for(static_cast<size_t>(batch), 128)), dim3(128), 0, stream, kind, z, labels,
                             batch, classes, d, row_loss, correct);
}

// y[i] += bias[(i / inner) % count]
__global__ void add_bias_kernel(float* __restrict__ y, const float* __restrict__ bias, size_t inner, size_t count,
                                size_t n) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] += bias[i / inner % count];
}

// dbias[j] = beta * dbias[j] + sum over samples and positions: one block per bias value.
__global__ void bias_grad_kernel(const float* __restrict__ dy, size_t inner, size_t count, size_t batch, float beta,
                                 float* __restrict__ dbias) {
  __shared__ float partial[256];
  const size_t j = blockIdx.x;
  float v = 0.0f;
  for (size_t i = threadIdx.x; i < batch * inner; i += blockDim.x) v += dy[(i / inner * count + j) * inner + i % inner];
  partial[threadIdx.x] = v;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) dbias[j] = beta == 0.0f ? partial[0] : beta * dbias[j] + partial[0];
}

BIOPROP_LAUNCHER void add_bias(float* y, const float* bias, size_t inner, size_t count, size_t n, cudaStream_t stream) {
  launch<add_bias_kernel>(dim3(blocks_for(n, 256)), dim3(256), 0, stream, y, bias, inner, count, n);
}
BIOPROP_LAUNCHER void bias_grad(const float* dy, size_t inner, size_t count, size_t batch, float beta, float* dbias,
                                cudaStream_t stream) {
  launch<bias_grad_kernel>(dim3(static_cast<unsigned>(count)), dim3(256), 0, stream, dy, inner, count, batch, beta,
                           dbias);
}

}  // namespace bioprop::kernels
