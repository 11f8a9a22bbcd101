// Learned inverses of target propagation: blocks, shapes and the inverse nets g_l.
#include "learned_inverse.hpp"

#include "bioprop/error.hpp"
#include "layers/window.hpp"

namespace bioprop {
namespace {

// The transposed locally connected map with its own weights V in the forward layer's W shape
// (out_h, out_w, out_channels, in_channels, k, k): y = LC^T(x; V), which takes the forward layer's
// output shape back to its input shape. It is the backward-data pass of a locally connected layer with
// weights V, so it runs on our LC kernels; its weight gradient is the backward-weight pass with the
// roles of x and dy exchanged (dV[p,o,k] = sum_n x[n,o,p] dy[n, window(p,k)]), and its input gradient
// the forward pass.
class TransposedLocallyConnected final : public WeightedLayer {
 public:
  explicit TransposedLocallyConnected(const WindowGeometry& forward) : WeightedLayer(false), g_(forward) {}
  std::string kind() const override { return "locally_connected2d_transposed"; }
  std::string settings() const override {
    return fmt::format("{} {}x{} s{} p{} no-bias", g_.in_channels, g_.kernel_h, g_.kernel_w, g_.stride, g_.padding);
  }

  Shape build(const Shape& input, int index, const Initializer& init, Backend& backend) override {
    check_input(input, index);
    create_weights({g_.out_h, g_.out_w, g_.out_channels, g_.in_channels, g_.kernel_h, g_.kernel_w}, 0,
                   g_.out_channels * g_.kernel_h * g_.kernel_w, g_.patch_size(), index, init, backend);
    return output_shape(input);
  }
  Shape output_shape(const Shape& input) const override { return {input[0], g_.in_channels, g_.in_h, g_.in_w}; }

  void forward(Backend& backend, const Tensor& x, Tensor& y) override {
    backend.locally_connected_backward_data(x, weights_.value, y, at_batch(x));
  }
  void backward_data(Backend& backend, const Tensor& x, const Tensor&, const Tensor& dy, Tensor& dx, Pathway) override {
    backend.locally_connected_forward(dy, weights_.value, dx, at_batch(x));
  }
  void weight_grad(Backend& backend, const Tensor& x, const Tensor& dy, float beta) override {
    backend.locally_connected_backward_weight(x, dy, beta, weights_.grad, at_batch(x));
  }

 private:
  WindowGeometry at_batch(const Tensor& x) const {
    WindowGeometry g = g_;
    g.batch = x.dim(0);
    return g;
  }
  void check_input(const Shape& input, int index) const {
    if (input.rank() != 4 || input[1] != g_.out_channels || input[2] != g_.out_h || input[3] != g_.out_w)
      fail("inverse layer {}: built for ({},{},{}) inputs, got {}", index, g_.out_channels, g_.out_h, g_.out_w,
           input.str());
  }
  WindowGeometry g_;
};

bool passes_activation_through(const std::string& kind) {
  return kind == "dropout" || kind == "max_pool2d" || kind == "avg_pool2d" || kind == "flatten";
}

}  // namespace

std::unique_ptr<Layer> make_transposed_locally_connected(const WindowGeometry& forward) {
  return std::make_unique<TransposedLocallyConnected>(forward);
}

std::vector<Block> blocks_of(Network& network) {
  const std::vector<int> weighted = network.weighted_layers();
  std::vector<Block> blocks;
  for (size_t j = 0; j < weighted.size(); ++j)
    blocks.push_back({weighted[j], j + 1 < weighted.size() ? weighted[j + 1] : network.size()});
  return blocks;
}

std::vector<Shape> sample_shapes(Network& network) {
  std::vector<Shape> shapes{network.sample_shape().batched(1)};
  for (int i = 0; i < network.size(); ++i) shapes.push_back(network.layer(i).output_shape(shapes.back()));
  for (Shape& s : shapes) s = Shape(std::vector<int>(s.dims().begin() + 1, s.dims().end()));
  return shapes;
}

std::optional<Activation> output_activation(Network& network, const Block& block) {
  for (int i = block.last - 1; i > block.first; --i) {
    Layer& layer = network.layer(i);
    if (layer.activation_function()) return layer.activation_function();
    if (!passes_activation_through(layer.kind())) return std::nullopt;
  }
  return std::nullopt;
}

std::unique_ptr<Network> make_inverse(Network& network, const std::vector<Block>& blocks, size_t l,
                                      const std::vector<Shape>& shapes, Backend& backend, uint64_t seed) {
  if (l == 0 || l >= blocks.size()) fail("make_inverse: block {} has no inverse (1..{})", l, blocks.size() - 1);
  const Block& block = blocks[l];
  Layer& forward = network.layer(block.first);
  const Shape& input = shapes[static_cast<size_t>(block.first)];  // h_{l-1}, per sample
  const Shape& output = shapes[static_cast<size_t>(block.last)];  // h_l, per sample
  std::vector<std::unique_ptr<Layer>> layers;
  if (forward.kind() == "dense") {
    layers.push_back(make_dense(static_cast<int>(input.numel()), true));
  } else if (forward.kind() == "locally_connected2d") {
    if (output != shapes[static_cast<size_t>(block.first) + 1])
      fail(
          "layer {} (locally_connected2d): target propagation needs its block to keep the layer's output shape "
          "(no pooling after it)",
          block.first);
    const auto& window = dynamic_cast<WindowWeightedLayer&>(forward);
    layers.push_back(make_transposed_locally_connected(window.geometry_on(input.batched(1))));
  } else {
    fail(
        "layer {} ({}): the target-propagation rules learn inverses of dense and locally connected layers only "
        "(Bartunov et al. 2018); use the dense, loccon or a tp_* net",
        block.first, forward.kind());
  }
  if (const auto f = output_activation(network, blocks[l - 1])) layers.push_back(make_activation(*f));
  if (input.rank() > 1) layers.push_back(make_flatten());  // a Network ends in (N, F): compared as a view
  Initializer init{InitKind::glorot, 0.0f, seed ^ (0x1A5EULL + l)};
  auto inverse = std::make_unique<Network>(std::move(layers), output, init, backend, fmt::format("inverse{}", l));
  for (Parameter* p : inverse->parameters()) p->name = fmt::format("inverse{}.{}", l, p->name);
  return inverse;
}

}  // namespace bioprop
