// oneDNN convolutions behind CpuBackend. Each geometry gets one Plan: the forward, backward-data and
// backward-weights primitives, created with format_tag::any so oneDNN picks its fastest (blocked)
// layouts, and one Operand per tensor that carries the reorders between that layout and ours; a forward
// primitive with ReLU as its post-op is added on first use.
#include "onednn_convolution.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <list>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "bioprop/error.hpp"

namespace bioprop {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// Runs a oneDNN call, turning its exception into our Error with the operation's name.
template <typename Call>
auto checked(const char* what, Call call) {
  try {
    return call();
  } catch (const dnnl::error& e) {
    fail("oneDNN {} failed: {} (status {})", what, e.what(), static_cast<int>(e.status));
  }
}

// One tensor of a primitive: our plain buffer and, when the primitive wants another layout, the same
// tensor in that layout (its storage in a shared slot) with the reorders both ways.
struct Operand {
  memory plain, inner;
  dnnl::reorder to_inner, to_plain;
  bool blocked = false;

  Operand(const memory::desc& plain_desc, const memory::desc& wanted, const dnnl::engine& engine)
      : plain(plain_desc, engine, DNNL_MEMORY_NONE), blocked(plain_desc != wanted) {
    if (!blocked) return;
    inner = memory(wanted, engine, DNNL_MEMORY_NONE);
    to_inner = dnnl::reorder(plain, inner);
    to_plain = dnnl::reorder(inner, plain);
  }
  size_t slot_floats() const { return blocked ? inner.get_desc().get_size() / sizeof(float) + 1 : 1; }

  // Points the operand at our buffer and its slot; returns the memory the primitive uses.
  memory& bind(const float* data, float* slot) {
    plain.set_data_handle(const_cast<float*>(data));
    if (!blocked) return plain;
    inner.set_data_handle(slot);
    return inner;
  }
  void load(dnnl::stream& stream) {
    if (blocked) to_inner.execute(stream, plain, inner);
  }
  void store(dnnl::stream& stream) {
    if (blocked) to_plain.execute(stream, inner, plain);
  }
};

// What a blocked copy holds: the values of `source` at write stamp `stamp`, in layout `desc`.
struct Held {
  const float* source = nullptr;
  uint64_t stamp = 0;
  memory::desc desc;

  static Held of(const Tensor& t, const memory::desc& d) { return {t.data(), t.write_stamp(), d}; }
  // A stamp of 0 is memory written from outside: never taken as unchanged.
  bool same(const Held& other) const {
    return stamp != 0 && source == other.source && stamp == other.stamp && desc == other.desc;
  }
};

// Storage for one operand's blocked copy: 64-byte aligned (oneDNN's Winograd kernels use aligned
// vector loads and crash on less), grown as needed, never shrunk; it remembers what it holds.
class Slot {
 public:
  float* reserve(size_t floats) {
    if (floats > capacity_) {
      const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
      held = {};
      storage_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
      if (!storage_) fail("out of host memory: oneDNN convolution scratch of {} bytes", bytes);
      capacity_ = floats;
    }
    return storage_.get();
  }
  Held held;

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> storage_;
  size_t capacity_ = 0;
};

// A training forward pass's input in the primitive's layout, kept for the weight gradient: one per input
// storage, dropped when that storage is freed (or, past `capacity`, the least recently used).
class KeptInputs {
 public:
  // The kept copy of t's storage, or nullptr.
  Slot* find(const Tensor& t) {
    kept_.remove_if([](const Kept& k) { return k.lifetime.expired(); });
    for (auto& k : kept_)
      if (k.source == t.data()) return k.last_use = ++clock_, &k.slot;
    return nullptr;
  }
  Slot& find_or_add(const Tensor& t) {
    if (Slot* slot = find(t)) return *slot;
    if (kept_.size() >= capacity) {
      kept_.erase(std::min_element(kept_.begin(), kept_.end(),
                                   [](const Kept& a, const Kept& b) { return a.last_use < b.last_use; }));
    }
    kept_.push_back({t.data(), t.storage_lifetime(), ++clock_, {}});
    return kept_.back().slot;
  }
  static constexpr size_t capacity = 32;

 private:
  struct Kept {
    const float* source;
    std::weak_ptr<const void> lifetime;
    uint64_t last_use;
    Slot slot;
  };
  std::list<Kept> kept_;  // a list: slots handed out stay where they are
  uint64_t clock_ = 0;
};

using GeometryKey = std::array<int, 11>;
GeometryKey key_of(const WindowGeometry& g) {
  return {g.batch, g.in_channels, g.in_h,     g.in_w,   g.out_channels, g.out_h,
          g.out_w, g.kernel_h,    g.kernel_w, g.stride, g.padding};
}

}  // namespace

// One primitive with its operands (two inputs, then the output) and the argument map it executes
// with, built once: binding new data only moves the operands' data handles.
struct ConvolutionCall {
  dnnl::primitive primitive;
  std::vector<Operand> operands;
  std::unordered_map<int, memory> arguments;

  ConvolutionCall(dnnl::primitive p, std::vector<Operand> ops, const std::array<int, 3>& argument_ids)
      : primitive(std::move(p)), operands(std::move(ops)) {
    for (size_t i = 0; i < 3; ++i)
      arguments.emplace(argument_ids[i], operands[i].blocked ? operands[i].inner : operands[i].plain);
  }
};

struct ConvolutionPlan {
  ConvolutionCall forward, backward_data, backward_weights;
  std::optional<ConvolutionCall> forward_relu;  // built on first use: most convolutions are never followed by one
};

struct OnednnConvolution::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<GeometryKey, std::unique_ptr<ConvolutionPlan>> plans;
  std::array<Slot, 3> slots;  // the blocked copies of a call's operands
  KeptInputs kept;            // training forward passes' inputs, for their weight gradients
  bool winograd = false;

  ConvolutionPlan& plan_for(const WindowGeometry& g);
  // The geometry's forward call, with ReLU as its post-op or without.
  ConvolutionCall& forward_call(const WindowGeometry& g, bool relu);
  // Runs `call` on inputs a and b (each in the given slot when blocked) into `output`.
  void run(ConvolutionCall& call, const Tensor& a, Slot& a_slot, const Tensor& b, Slot& b_slot, float* output);
  // Binds input i to `t` and `slot`; reorders it there unless the slot already holds t as it is.
  void load(Operand& operand, const Tensor& t, Slot& slot);
};

namespace {

// The operand shapes and the algorithm choice of a geometry's primitives.
struct PlanDescriptors {
  memory::desc any_src, any_dst, any_weights, plain_src, plain_dst, plain_weights;
  memory::dims strides, padding;
  bool try_winograd;

  PlanDescriptors(const WindowGeometry& g, bool winograd) {
    using Dims = memory::dims;
    const Dims src{g.batch, g.in_channels, g.in_h, g.in_w}, dst{g.batch, g.out_channels, g.out_h, g.out_w},
        weights{g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
    const auto f32 = memory::data_type::f32;
    any_src = memory::desc(src, f32, Tag::any), any_dst = memory::desc(dst, f32, Tag::any);
    any_weights = memory::desc(weights, f32, Tag::any);
    plain_src = memory::desc(src, f32, Tag::nchw), plain_dst = memory::desc(dst, f32, Tag::nchw);
    plain_weights = memory::desc(weights, f32, Tag::oihw);
    // Right padding = left padding: oneDNN checks (in - k + 2p) / s + 1 == out with the same rounding
    // down as WindowGeometry's output size.
    strides = {g.stride, g.stride}, padding = {g.padding, g.padding};
    try_winograd = winograd && g.kernel_h == 3 && g.kernel_w == 3 && g.stride == 1 && g.in_channels >= 16;
  }

  // Each primitive takes Winograd where asked for and implemented on this machine, else direct.
  template <typename Make>
  auto choose(Make make) const {
    if (try_winograd) try {
        return make(dnnl::algorithm::convolution_winograd);
      } catch (const dnnl::error& e) {
        if (e.status != dnnl_unimplemented) throw;
      }
    return make(dnnl::algorithm::convolution_direct);
  }

  dnnl::convolution_forward::primitive_desc forward(const dnnl::engine& engine,
                                                    const dnnl::primitive_attr& attributes = {}) const {
    return choose([&](dnnl::algorithm a) {
      return dnnl::convolution_forward::primitive_desc(
          {dnnl::prop_kind::forward_training, a, any_src, any_weights, any_dst, strides, padding, padding}, attributes,
          engine);
    });
  }
  ConvolutionCall forward_call(const dnnl::convolution_forward::primitive_desc& pd, const dnnl::engine& engine) const {
    return ConvolutionCall(
        dnnl::convolution_forward(pd),
        {Operand(plain_src, pd.src_desc(), engine), Operand(plain_weights, pd.weights_desc(), engine),
         Operand(plain_dst, pd.dst_desc(), engine)},
        {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST});
  }
};

}  // namespace

ConvolutionPlan& OnednnConvolution::Impl::plan_for(const WindowGeometry& g) {
  auto& slot = plans[key_of(g)];
  if (slot) return *slot;
  slot = checked("convolution setup", [&] {
    const PlanDescriptors d(g, winograd);
    const auto forward = d.forward(engine);
    const auto backward_data = d.choose([&](dnnl::algorithm a) {
      return dnnl::convolution_backward_data::primitive_desc(
          {a, d.any_src, d.any_weights, d.any_dst, d.strides, d.padding, d.padding}, engine, forward);
    });
    const auto backward_weights = d.choose([&](dnnl::algorithm a) {
      return dnnl::convolution_backward_weights::primitive_desc(
          {a, d.any_src, d.any_weights, d.any_dst, d.strides, d.padding, d.padding}, engine, forward);
    });
    return std::make_unique<ConvolutionPlan>(
        ConvolutionPlan{d.forward_call(forward, engine),
                        ConvolutionCall(dnnl::convolution_backward_data(backward_data),
                                        {Operand(d.plain_dst, backward_data.diff_dst_desc(), engine),
                                         Operand(d.plain_weights, backward_data.weights_desc(), engine),
                                         Operand(d.plain_src, backward_data.diff_src_desc(), engine)},
                                        {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC}),
                        ConvolutionCall(dnnl::convolution_backward_weights(backward_weights),
                                        {Operand(d.plain_dst, backward_weights.diff_dst_desc(), engine),
                                         Operand(d.plain_src, backward_weights.src_desc(), engine),
                                         Operand(d.plain_weights, backward_weights.diff_weights_desc(), engine)},
                                        {DNNL_ARG_DIFF_DST, DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS}),
                        std::nullopt});
  });
  return *slot;
}

ConvolutionCall& OnednnConvolution::Impl::forward_call(const WindowGeometry& g, bool relu) {
  ConvolutionPlan& plan = plan_for(g);
  if (!relu) return plan.forward;
  if (!plan.forward_relu) {
    plan.forward_relu.emplace(checked("convolution setup", [&] {
      // ReLU as the convolution's post-op: applied to each output as it is written (alpha 0: max(y, 0)).
      dnnl::post_ops relu_after;
      relu_after.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      dnnl::primitive_attr attributes;
      attributes.set_post_ops(relu_after);
      const PlanDescriptors d(g, winograd);
      return d.forward_call(d.forward(engine, attributes), engine);
    }));
  }
  return *plan.forward_relu;
}

void OnednnConvolution::Impl::load(Operand& operand, const Tensor& t, Slot& slot) {
  operand.bind(t.data(), slot.reserve(operand.slot_floats()));
  if (!operand.blocked) return;
  const Held wanted = Held::of(t, operand.inner.get_desc());
  if (wanted.same(slot.held)) return;
  slot.held = {};  // in case the reorder fails half way
  operand.load(stream);
  slot.held = wanted;
}

void OnednnConvolution::Impl::run(ConvolutionCall& call, const Tensor& a, Slot& a_slot, const Tensor& b, Slot& b_slot,
                                  float* output) {
  checked("convolution", [&] {
    load(call.operands[0], a, a_slot);
    load(call.operands[1], b, b_slot);
    call.operands[2].bind(output, slots[2].reserve(call.operands[2].slot_floats()));
    call.primitive.execute(stream, call.arguments);
    call.operands[2].store(stream);
    stream.wait();
    return 0;
  });
}

OnednnConvolution::OnednnConvolution(bool winograd) : impl_(std::make_unique<Impl>()) { impl_->winograd = winograd; }
OnednnConvolution::~OnednnConvolution() = default;

void OnednnConvolution::forward(const Tensor& x, const Tensor& weights, float* y, const WindowGeometry& g,
                                bool keep_input, bool relu) {
  ConvolutionCall& call = impl_->forward_call(g, relu);
  // The input's own kept copy when training (or when one holds it already), else the shared slot. Memory
  // written from outside (no write stamp) is never kept.
  Slot* x_slot = nullptr;
  if (call.operands[0].blocked)
    x_slot = keep_input && x.write_stamp() != 0 ? &impl_->kept.find_or_add(x) : impl_->kept.find(x);
  impl_->run(call, x, x_slot ? *x_slot : impl_->slots[0], weights, impl_->slots[1], y);
}

void OnednnConvolution::backward_data(const Tensor& dy, const Tensor& weights, float* dx, const WindowGeometry& g) {
  impl_->run(impl_->plan_for(g).backward_data, dy, impl_->slots[0], weights, impl_->slots[1], dx);
}

void OnednnConvolution::backward_filter(const Tensor& dy, const Tensor& x, float* dweights, const WindowGeometry& g) {
  Slot* x_slot = impl_->kept.find(x);
  impl_->run(impl_->plan_for(g).backward_weights, dy, impl_->slots[0], x, x_slot ? *x_slot : impl_->slots[1], dweights);
}

}  // namespace bioprop
