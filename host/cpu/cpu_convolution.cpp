// CPU convolution, two ways (CpuConvolution): oneDNN's direct kernels (onednn_convolution.cpp), or
// im2col: the batch is cut into chunks; each chunk is unrolled into one im2col matrix
// (patch_size x images*positions) so a single large sgemm does the work of the chunk.
#include <cblas.h>

#include <algorithm>

#include "cpu_backend.hpp"
#include "environment_choice.hpp"

namespace bioprop {

namespace {
// Largest im2col matrix we build at once (floats); bounds memory for large images and batches.
constexpr size_t max_columns_floats = size_t{8} << 20;

int images_per_chunk(const WindowGeometry& g) {
  const size_t per_image = static_cast<size_t>(g.patch_size()) * g.positions();
  return static_cast<int>(std::clamp<size_t>(max_columns_floats / std::max<size_t>(per_image, 1), 1, g.batch));
}

// The output columns [first, last) of one window column kw whose input column ow * s - pad + kw lies
// inside the image: the loops below copy those without a bounds check per value.
struct InsideColumns {
  int first, last;
};
int ceil_div(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
InsideColumns inside_columns(const WindowGeometry& g, int kw) {
  const int first = std::clamp(ceil_div(g.padding - kw, g.stride), 0, g.out_w);
  const int last = std::clamp(ceil_div(g.in_w + g.padding - kw, g.stride), first, g.out_w);
  return {first, last};
}

// columns[(c*kh_size + kh)*kw_size + kw][i*P + oh*out_w + ow] = x[first + i][c][oh*s - pad + kh][ow*s - pad + kw]
// (zero where the window hangs over the padding).
void im2col(const float* x, const WindowGeometry& g, int first, int count, float* columns) {
  const size_t width = static_cast<size_t>(count) * g.positions();
#pragma omp parallel for collapse(2) schedule(static)
  for (int i = 0; i < count; ++i)
    for (int c = 0; c < g.in_channels; ++c) {
      const float* plane = x + (static_cast<size_t>(first + i) * g.in_channels + c) * g.in_h * g.in_w;
      for (int kh = 0; kh < g.kernel_h; ++kh)
        for (int kw = 0; kw < g.kernel_w; ++kw) {
          float* row = columns + ((static_cast<size_t>(c) * g.kernel_h + kh) * g.kernel_w + kw) * width +
                       static_cast<size_t>(i) * g.positions();
          const InsideColumns inside = inside_columns(g, kw);
          for (int oh = 0; oh < g.out_h; ++oh) {
            float* out = row + static_cast<size_t>(oh) * g.out_w;
            const int in_row = oh * g.stride - g.padding + kh;
            if (in_row < 0 || in_row >= g.in_h) {
              std::fill_n(out, g.out_w, 0.0f);
              continue;
            }
            const float* source = plane + static_cast<size_t>(in_row) * g.in_w;
            const int shift = kw - g.padding;  // input column of output column ow: ow * stride + shift
            std::fill_n(out, inside.first, 0.0f);
            if (g.stride == 1) {
              std::copy(source + inside.first + shift, source + inside.last + shift, out + inside.first);
            } else {
              for (int ow = inside.first; ow < inside.last; ++ow) out[ow] = source[ow * g.stride + shift];
            }
            std::fill(out + inside.last, out + g.out_w, 0.0f);
          }
        }
    }
}

// The transpose of im2col: adds every column entry back into the image it came from.
void col2im_add(const float* columns, const WindowGeometry& g, int first, int count, float* dx) {
  const size_t width = static_cast<size_t>(count) * g.positions();
#pragma omp parallel for collapse(2) schedule(static)
  for (int i = 0; i < count; ++i)
    for (int c = 0; c < g.in_channels; ++c) {
      float* plane = dx + (static_cast<size_t>(first + i) * g.in_channels + c) * g.in_h * g.in_w;
      for (int kh = 0; kh < g.kernel_h; ++kh)
        for (int kw = 0; kw < g.kernel_w; ++kw) {
          const float* row = columns + ((static_cast<size_t>(c) * g.kernel_h + kh) * g.kernel_w + kw) * width +
                             static_cast<size_t>(i) * g.positions();
          const InsideColumns inside = inside_columns(g, kw);
          for (int oh = 0; oh < g.out_h; ++oh) {
            const int in_row = oh * g.stride - g.padding + kh;
            if (in_row < 0 || in_row >= g.in_h) continue;
            const float* in = row + static_cast<size_t>(oh) * g.out_w;
            float* target = plane + static_cast<size_t>(in_row) * g.in_w;
            const int shift = kw - g.padding;
            for (int ow = inside.first; ow < inside.last; ++ow) target[ow * g.stride + shift] += in[ow];
          }
        }
    }
}

// Moves between the layer layout y[n][oc][p] and the gemm layout product[oc][i*P + p].
void gather_outputs(const float* y, const WindowGeometry& g, int first, int count, float* product) {
  const size_t positions = g.positions(), width = static_cast<size_t>(count) * positions;
#pragma omp parallel for collapse(2) schedule(static)
  for (int i = 0; i < count; ++i)
    for (int oc = 0; oc < g.out_channels; ++oc)
      std::copy_n(y + (static_cast<size_t>(first + i) * g.out_channels + oc) * positions, positions,
                  product + oc * width + i * positions);
}
void scatter_outputs(const float* product, const WindowGeometry& g, int first, int count, float* y) {
  const size_t positions = g.positions(), width = static_cast<size_t>(count) * positions;
#pragma omp parallel for collapse(2) schedule(static)
  for (int i = 0; i < count; ++i)
    for (int oc = 0; oc < g.out_channels; ++oc)
      std::copy_n(product + oc * width + i * positions, positions,
                  y + (static_cast<size_t>(first + i) * g.out_channels + oc) * positions);
}

}  // namespace

CpuConvolution cpu_convolution_from_environment() {
  return choice_from_environment<CpuConvolution>("BIOPROP_CPU_CONVOLUTION",
                                                 {{"onednn", CpuConvolution::onednn},
                                                  {"onednn-direct", CpuConvolution::onednn_direct},
                                                  {"im2col", CpuConvolution::im2col}});
}

CpuBackend::CpuBackend(CpuConvolution convolution)
    : onednn_(convolution == CpuConvolution::im2col
                  ? nullptr
                  : std::make_unique<OnednnConvolution>(convolution == CpuConvolution::onednn)) {}
CpuBackend::~CpuBackend() = default;

template <typename Work>
void CpuBackend::for_each_image_chunk(const WindowGeometry& g, Work work) {
  const int chunk = images_per_chunk(g);
  for (int first = 0; first < g.batch; first += chunk) {
    const int count = std::min(chunk, g.batch - first);
    const size_t width = static_cast<size_t>(count) * g.positions();
    work(first, count, scratch(columns_, static_cast<size_t>(g.patch_size()) * width),
         scratch(product_, static_cast<size_t>(g.out_channels) * width));
  }
}

void CpuBackend::conv2d_training_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) {
  if (!onednn_) return conv2d_forward(x, weights, y, g);
  expect_window_shapes("conv2d_forward", g, x, y, &weights, conv_filter_shape(g));
  onednn_->forward(x, weights, y.data(), g, true);
}

bool CpuBackend::conv2d_relu_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g,
                                     bool training) {
  if (!onednn_) return false;  // our im2col path has no epilogue: the ReLU layer runs its own pass
  expect_window_shapes("conv2d_relu_forward", g, x, y, &weights, conv_filter_shape(g));
  onednn_->forward(x, weights, y.data(), g, training, /*relu=*/true);
  return true;
}

void CpuBackend::conv2d_forward(const Tensor& x, const Tensor& weights, Tensor& y, const WindowGeometry& g) {
  expect_window_shapes("conv2d_forward", g, x, y, &weights, conv_filter_shape(g));
  if (onednn_) return onednn_->forward(x, weights, y.data(), g, false);
  const int k = g.patch_size();
  for_each_image_chunk(g, [&](int first, int count, float* columns, float* product) {
    const int width = count * g.positions();
    im2col(x.data(), g, first, count, columns);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.out_channels, width, k, 1.0f, weights.data(), k, columns,
                width, 0.0f, product, width);
    scatter_outputs(product, g, first, count, y.data());
  });
}

void CpuBackend::conv2d_backward_data(const Tensor& dy, const Tensor& weights, Tensor& dx, const WindowGeometry& g) {
  expect_window_shapes("conv2d_backward_data", g, dx, dy, &weights, conv_filter_shape(g));
  if (onednn_) return onednn_->backward_data(dy, weights, dx.data(), g);
  fill(dx, 0.0f);
  const int k = g.patch_size();
  for_each_image_chunk(g, [&](int first, int count, float* columns, float* product) {
    const int width = count * g.positions();
    gather_outputs(dy.data(), g, first, count, product);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, width, g.out_channels, 1.0f, weights.data(), k, product,
                width, 0.0f, columns, width);
    col2im_add(columns, g, first, count, dx.data());
  });
}

void CpuBackend::conv2d_backward_filter(const Tensor& dy, const Tensor& x, float beta, Tensor& dweights,
                                        const WindowGeometry& g) {
  expect_window_shapes("conv2d_backward_filter", g, x, dy, &dweights, conv_filter_shape(g));
  if (onednn_) {
    if (beta == 0.0f) return onednn_->backward_filter(dy, x, dweights.data(), g);
    float* gradient = scratch(filter_gradient_, dweights.numel());
    onednn_->backward_filter(dy, x, gradient, g);
    float* out = dweights.data();
    for (size_t i = 0; i < dweights.numel(); ++i) out[i] = beta * out[i] + gradient[i];
    return;
  }
  const int k = g.patch_size();
  for_each_image_chunk(g, [&](int first, int count, float* columns, float* product) {
    const int width = count * g.positions();
    im2col(x.data(), g, first, count, columns);
    gather_outputs(dy.data(), g, first, count, product);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.out_channels, k, width, 1.0f, product, width, columns, width,
                first == 0 ? beta : 1.0f, dweights.data(), k);
  });
}

}  // namespace bioprop
