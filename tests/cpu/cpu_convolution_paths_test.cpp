// CpuBackend's convolution paths, oneDNN (Winograd where it applies, else direct), oneDNN direct
// only, and im2col + sgemm, give the same forward pass and the same gradients (direct: up to
// summation order; Winograd: up to its transforms' rounding) on geometries that exercise padding,
// stride, uneven output sizes, non-square images and kernels, one image and one channel, and the
// Winograd case (3x3, stride 1, 16+ channels); and a bad path name is an error.
#include <algorithm>
#include <cstdlib>

#include "bioprop/error.hpp"
#include "cpu/cpu_backend.hpp"
#include "gradient_check.hpp"

namespace bioprop {
namespace {

using testing::random_tensor;

WindowGeometry geometry(int batch, int in_channels, int in_h, int in_w, int out_channels, int kernel_h, int kernel_w,
                        int stride, int padding) {
  WindowGeometry g{batch, in_channels, in_h, in_w, out_channels, 0, 0, kernel_h, kernel_w, stride, padding};
  g.out_h = (in_h + 2 * padding - kernel_h) / stride + 1;
  g.out_w = (in_w + 2 * padding - kernel_w) / stride + 1;
  return g;
}

// Largest difference relative to the largest magnitude of the reference.
double relative_difference(const Tensor& a, const Tensor& reference) {
  double largest = 1e-12, difference = 0;
  for (size_t i = 0; i < reference.numel(); ++i) {
    largest = std::max(largest, static_cast<double>(std::abs(reference.at(i))));
    difference = std::max(difference, static_cast<double>(std::abs(a.at(i) - reference.at(i))));
  }
  return difference / largest;
}

struct PathCase {
  CpuConvolution path;
  WindowGeometry g;
};

class CpuConvolutionPathsTest : public ::testing::TestWithParam<PathCase> {
 protected:
  CpuBackend onednn{GetParam().path}, im2col{CpuConvolution::im2col};
};

TEST_P(CpuConvolutionPathsTest, OnednnMatchesIm2col) {
  const WindowGeometry g = GetParam().g;
  const Shape in{g.batch, g.in_channels, g.in_h, g.in_w}, out{g.batch, g.out_channels, g.out_h, g.out_w},
      filter = conv_filter_shape(g);
  const Tensor x = random_tensor(im2col, in, 1), w = random_tensor(im2col, filter, 2),
               dy = random_tensor(im2col, out, 3), dw_before = random_tensor(im2col, filter, 4);
  // Winograd's transforms round more than a direct sum: 1e-4 of the largest value (measured: 2e-6).
  const double tolerance = GetParam().path == CpuConvolution::onednn ? 1e-4 : 1e-5;

  Tensor y_onednn(out), y_im2col(out);
  onednn.conv2d_forward(x, w, y_onednn, g);
  im2col.conv2d_forward(x, w, y_im2col, g);
  EXPECT_LT(relative_difference(y_onednn, y_im2col), tolerance) << "forward";

  Tensor dx_onednn = random_tensor(im2col, in, 5), dx_im2col(in);  // stale values must be overwritten
  onednn.conv2d_backward_data(dy, w, dx_onednn, g);
  im2col.conv2d_backward_data(dy, w, dx_im2col, g);
  EXPECT_LT(relative_difference(dx_onednn, dx_im2col), tolerance) << "backward data";

  for (float beta : {0.0f, 0.5f}) {
    Tensor dw_onednn = dw_before.clone(), dw_im2col = dw_before.clone();
    onednn.conv2d_backward_filter(dy, x, beta, dw_onednn, g);
    im2col.conv2d_backward_filter(dy, x, beta, dw_im2col, g);
    EXPECT_LT(relative_difference(dw_onednn, dw_im2col), tolerance) << "backward filter, beta " << beta;
  }
}

const WindowGeometry geometries[] = {
    geometry(4, 3, 32, 32, 16, 3, 3, 1, 1),   // a reference net's first layer
    geometry(2, 16, 9, 8, 8, 3, 3, 2, 1),     // stride 2, uneven output
    geometry(1, 1, 7, 11, 5, 5, 3, 1, 2),     // one image, one channel
    geometry(3, 8, 6, 6, 4, 1, 1, 1, 0),      // 1x1 kernel
    geometry(2, 5, 12, 10, 7, 4, 4, 3, 0),    // stride 3, no padding
    geometry(4, 32, 16, 16, 32, 3, 3, 1, 1),  // Winograd's case: 3x3, stride 1, 16+ channels
    geometry(2, 16, 7, 9, 24, 3, 3, 1, 0),    // Winograd, uneven tiles, no padding
};
std::vector<PathCase> path_cases() {
  std::vector<PathCase> cases;
  for (CpuConvolution path : {CpuConvolution::onednn, CpuConvolution::onednn_direct})
    for (const WindowGeometry& g : geometries) cases.push_back({path, g});
  return cases;
}
INSTANTIATE_TEST_SUITE_P(Geometries, CpuConvolutionPathsTest, ::testing::ValuesIn(path_cases()));

// The same call twice gives bit-identical results: a fixed seed and thread count reproduce a run.
TEST(CpuConvolutionPaths, OnednnIsDeterministic) {
  CpuBackend backend(CpuConvolution::onednn);
  const WindowGeometry g = geometry(8, 16, 16, 16, 32, 3, 3, 1, 1);  // Winograd where the machine has it
  const Tensor x = random_tensor(backend, {8, 16, 16, 16}, 1), dy = random_tensor(backend, {8, 32, 16, 16}, 2);
  Tensor first(conv_filter_shape(g)), second(conv_filter_shape(g));
  backend.conv2d_backward_filter(dy, x, 0.0f, first, g);
  backend.conv2d_backward_filter(dy, x, 0.0f, second, g);
  for (size_t i = 0; i < first.numel(); ++i) ASSERT_EQ(first.at(i), second.at(i)) << i;
}

// The ReLU applied as the convolution's post-op gives the bits of the convolution followed by the ReLU pass,
// in training (the input kept for the weight gradient) and evaluation; the im2col path declines it.
TEST(CpuConvolutionPaths, ReluPostOpEqualsTheReluPassAfterTheConvolution) {
  for (CpuConvolution path : {CpuConvolution::onednn, CpuConvolution::onednn_direct})
    for (const WindowGeometry& g : geometries)
      for (bool training : {false, true}) {
        SCOPED_TRACE(::testing::Message()
                     << "path " << static_cast<int>(path) << ", " << g.in_channels << " -> " << g.out_channels
                     << " channels, stride " << g.stride << ", training " << training);
        CpuBackend backend(path);
        const Tensor x = random_tensor(backend, {g.batch, g.in_channels, g.in_h, g.in_w}, 1),
                     w = random_tensor(backend, conv_filter_shape(g), 2);
        const Shape out{g.batch, g.out_channels, g.out_h, g.out_w};
        Tensor separate(out), fused = random_tensor(backend, out, 3);  // stale values must be overwritten
        backend.conv2d_forward(x, w, separate, g);
        backend.activation_forward(Activation::relu, separate, separate);
        ASSERT_TRUE(backend.conv2d_relu_forward(x, w, fused, g, training));
        size_t negative = 0;
        for (size_t i = 0; i < out.numel(); ++i) {
          ASSERT_EQ(fused.at(i), separate.at(i)) << "element " << i;
          negative += fused.at(i) == 0.0f;
        }
        EXPECT_GT(negative, 0u) << "the ReLU had nothing to do";
      }
  CpuBackend im2col(CpuConvolution::im2col);
  const WindowGeometry g = geometries[0];
  Tensor y({g.batch, g.out_channels, g.out_h, g.out_w});
  EXPECT_FALSE(im2col.conv2d_relu_forward(random_tensor(im2col, {g.batch, g.in_channels, g.in_h, g.in_w}, 1),
                                          random_tensor(im2col, conv_filter_shape(g), 2), y, g, true));
}

// Reorders skipped for inputs whose blocked copy is already there (the training forward pass's input kept for
// the weight gradient; dy loaded for one backward pass and used by the other) give the same bits as a backend
// that reorders everything, and a tensor changed in between (in place, or through a view) is reordered again.
void expect_same_bits(const Tensor& a, const Tensor& b, const char* what) {
  for (size_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.at(i), b.at(i)) << what << ", element " << i;
}

TEST(CpuConvolutionPaths, SkippedReordersFollowChangesOfTheirTensors) {
  for (const WindowGeometry& g : {geometry(4, 32, 16, 16, 32, 3, 3, 2, 1), geometry(4, 32, 16, 16, 32, 3, 3, 1, 1)}) {
    CpuBackend kept(CpuConvolution::onednn);
    const Shape in{g.batch, g.in_channels, g.in_h, g.in_w}, out{g.batch, g.out_channels, g.out_h, g.out_w},
        filter = conv_filter_shape(g);
    Tensor x = random_tensor(kept, in, 1), dy = random_tensor(kept, out, 2);
    const Tensor w = random_tensor(kept, filter, 3), x_changed = random_tensor(kept, in, 4),
                 dy_changed = random_tensor(kept, out, 5);
    // Each reference from a backend of its own, which has nothing to reuse.
    const auto weight_gradient = [&](const Tensor& d, const Tensor& input) {
      CpuBackend fresh(CpuConvolution::onednn);
      Tensor dw(filter);
      fresh.conv2d_backward_filter(d, input, 0.0f, dw, g);
      return dw;
    };
    const auto input_gradient = [&](const Tensor& d) {
      CpuBackend fresh(CpuConvolution::onednn);
      Tensor dx(in);
      fresh.conv2d_backward_data(d, w, dx, g);
      return dx;
    };
    Tensor y(out), dw(filter), dx(in);

    kept.conv2d_training_forward(x, w, y, g);
    kept.conv2d_backward_filter(dy, x, 0.0f, dw, g);
    expect_same_bits(dw, weight_gradient(dy, x), "weight gradient of the kept input");
    kept.conv2d_backward_data(dy, w, dx, g);
    expect_same_bits(dx, input_gradient(dy), "input gradient of the loaded dy");

    kept.conv2d_training_forward(x, w, y, g);
    std::copy_n(x_changed.data(), x.numel(), x.reshaped({static_cast<int>(x.numel())}).data());  // through a view
    kept.conv2d_backward_filter(dy, x, 0.0f, dw, g);
    expect_same_bits(dw, weight_gradient(dy, x_changed), "weight gradient after x changed");

    std::copy_n(dy_changed.data(), dy.numel(), dy.data());
    kept.conv2d_backward_data(dy, w, dx, g);
    expect_same_bits(dx, input_gradient(dy_changed), "input gradient after dy changed");
  }
}

TEST(CpuConvolutionPaths, UnknownPathNameIsAnError) {
  ::setenv("BIOPROP_CPU_CONVOLUTION", "winograd", 1);
  EXPECT_THROW(
      {
        try {
          cpu_convolution_from_environment();
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("BIOPROP_CPU_CONVOLUTION='winograd'"), std::string::npos);
          throw;
        }
      },
      Error);
  ::setenv("BIOPROP_CPU_CONVOLUTION", "im2col", 1);
  EXPECT_EQ(cpu_convolution_from_environment(), CpuConvolution::im2col);
  ::setenv("BIOPROP_CPU_CONVOLUTION", "onednn-direct", 1);
  EXPECT_EQ(cpu_convolution_from_environment(), CpuConvolution::onednn_direct);
  ::unsetenv("BIOPROP_CPU_CONVOLUTION");
  EXPECT_EQ(cpu_convolution_from_environment(), CpuConvolution::onednn);
}

}  // namespace
}  // namespace bioprop
