#pragma once
// The three-factor update of Q-AGREL / BrainProp (Pozzi et al. 2020) for dense weights, in one kernel:
//   dW[o][i] = beta * dW[o][i] + alpha * sum_b m_b * tag[b][o] * pre[b][i]
// (pre-synaptic activity x attention tag x the trial's neuromodulator m_b, the reward-prediction
// error). The modulator is applied while the batch tiles are staged in shared memory, so the RPE
// scaling costs no separate pass over the tags. Tiled 16 x 16 like the LC weight-gradient kernel.
// For locally connected weights the same fusion is the `modulator` argument of
// lc_backward_weight_kernel.
#include "bioprop/cuda_launch.hpp"

namespace bioprop::kernels {

constexpr int three_factor_tile = 16;

// grid (ceil(inputs/16), ceil(outputs/16)), block (16, 16): thread (x = i, y = o) owns dW[o][i].
__global__ void dense_three_factor_kernel(const float* __restrict__ tags, const float* __restrict__ pre,
                                          const float* __restrict__ modulator, float alpha, float beta,
                                          float* __restrict__ dw, int batch, int outputs, int inputs) {
  __shared__ float tag_tile[three_factor_tile][three_factor_tile + 1];  // [b][o], already modulated
  __shared__ float pre_tile[three_factor_tile][three_factor_tile + 1];  // [b][i]
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int i = static_cast<int>(blockIdx.x) * three_factor_tile + tx;
  const int o = static_cast<int>(blockIdx.y) * three_factor_tile + ty;
  const int load_o = static_cast<int>(blockIdx.y) * three_factor_tile + tx;
  float sum = 0.0f;
  for (int b0 = 0; b0 < batch; b0 += three_factor_tile) {
    const int b = b0 + ty;
    tag_tile[ty][tx] =
        b < batch && load_o < outputs ? modulator[b] * tags[static_cast<size_t>(b) * outputs + load_o] : 0.0f;
    pre_tile[ty][tx] = b < batch && i < inputs ? pre[static_cast<size_t>(b) * inputs + i] : 0.0f;
    __syncthreads();
    for (int k = 0; k < three_factor_tile; ++k) sum += tag_tile[k][ty] * pre_tile[k][tx];
    __syncthreads();
  }
  if (o < outputs && i < inputs) {
    float* out = dw + static_cast<size_t>(o) * inputs + i;
    *out = beta == 0.0f ? alpha * sum : beta * *out + alpha * sum;
  }
}

// tags (batch, outputs), pre (batch, inputs), modulator (batch), dw (outputs, inputs).
BIOPROP_LAUNCHER void dense_three_factor_update(const float* tags, const float* pre, const float* modulator,
                                                float alpha, float beta, float* dw, int batch, int outputs, int inputs,
                                                cudaStream_t stream) {
  const dim3 grid(blocks_for(static_cast<size_t>(inputs), three_factor_tile),
                  blocks_for(static_cast<size_t>(outputs), three_factor_tile));
  launch<dense_three_factor_kernel>(grid, dim3(three_factor_tile, three_factor_tile), 0, stream, tags, pre, modulator,
                                    alpha, beta, dw, batch, outputs, inputs);
}

}  // namespace bioprop::kernels
