#pragma once
// The learned inverses of target propagation (Lee et al. 2015; Bartunov et al. 2018, section 2): for
// every block l > 1 of the forward net, g_l maps the block's output h_l back to its input h_{l-1}.
// A block is a weighted layer and the layers after it up to the next weighted layer (its activation,
// batch norm, pooling, dropout): h_l is the block's output, the value targets are set for.
#include <memory>
#include <vector>

#include "bioprop/network.hpp"

namespace bioprop {

struct Block {
  int first = 0;  // the weighted layer
  int last = 0;   // one past the block's last layer: h_l = activations(last)
};

// The net's blocks, in order; the last one is the output block (the readout).
std::vector<Block> blocks_of(Network& network);

// The per-sample shape of every activation of the net (index i: the input of layer i), from the
// layers' output shapes: known before any forward pass.
std::vector<Shape> sample_shapes(Network& network);

// g_l of `block` as a small net of its own: a dense layer (dense blocks) or a transposed locally
// connected layer with its own weights in W's shape (locally connected blocks), then the nonlinearity
// that made h_{l-1} when h_{l-1} is an activation's output (else linear). Its parameters are named
// "inverse<l>.layer<i>...". Conv2d blocks are refused: the paper's nets are dense and locally connected.
std::unique_ptr<Network> make_inverse(Network& network, const std::vector<Block>& blocks, size_t l,
                                      const std::vector<Shape>& shapes, Backend& backend, uint64_t seed);

// The transposed locally connected map y = LC^T(x; V) with its own weights V in the forward layer's W
// shape, from the forward layer's output shape back to its input shape (`forward`: that layer's window).
std::unique_ptr<Layer> make_transposed_locally_connected(const WindowGeometry& forward);

// The nonlinearity whose output a block's output is (through dropout or pooling), if any.
std::optional<Activation> output_activation(Network& network, const Block& block);

}  // namespace bioprop
