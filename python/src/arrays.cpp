// Arrays between Python and the engine: inputs from NumPy (buffer protocol) or any DLPack producer (a torch
// tensor on the CPU or a GPU), used in place where they are float32 on the trainer's device; NumPy copies of
// tensors; and DLPack views of tensors that NumPy and PyTorch read without a copy.
#include <dlpack/dlpack.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <numeric>

#include "bioprop/error.hpp"
#include "python_module.hpp"

namespace bioprop::python {
namespace {

// An array handed in from Python, as the engine reads it.
struct InputArray {
  std::vector<int> dims;
  bool uint8 = false;  // else float32
  const void* data = nullptr;
  Device device = Device::cpu;
  int device_index = 0;
  std::shared_ptr<void> owner;  // keeps the memory alive; released with the GIL held
};

std::string shape_text(const std::vector<int>& dims) {
  std::string text = "(";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + (dims.size() == 1 ? ",)" : ")");
}

// A reference to a Python object that may be dropped on any thread.
std::shared_ptr<void> hold(py::object object) {
  return {new py::object(std::move(object)), [](void* p) {
            const py::gil_scoped_acquire locked;
            delete static_cast<py::object*>(p);
          }};
}

InputArray from_numpy(py::array array, const std::string& what) {
  const py::dtype dtype = array.dtype();
  InputArray in;
  if (dtype.is(py::dtype::of<uint8_t>())) {
    in.uint8 = true;
    array = py::array_t<uint8_t, py::array::c_style>::ensure(array);
  } else if (dtype.kind() == 'f') {  // float32 as is; other floats converted (a copy)
    array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
  } else {
    fail("{}: arrays of {} are not taken: give float32 (or uint8 images, scaled to [0, 1])", what,
         py::str(static_cast<const py::handle&>(dtype)).cast<std::string>());
  }
  for (py::ssize_t axis = 0; axis < array.ndim(); ++axis) in.dims.push_back(static_cast<int>(array.shape(axis)));
  in.data = array.data();
  in.owner = hold(array);
  return in;
}

InputArray from_dlpack(const py::object& producer, const std::string& what) {
  py::capsule capsule = producer.attr("__dlpack__")();
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  if (managed == nullptr) throw py::error_already_set();
  PyCapsule_SetName(capsule.ptr(), "used_dltensor");  // consumed: its deleter is ours to call
  InputArray in;
  in.owner = std::shared_ptr<void>(managed, [](void* p) {
    const py::gil_scoped_acquire locked;  // a producer's deleter may release Python objects
    auto* m = static_cast<DLManagedTensor*>(p);
    if (m->deleter) m->deleter(m);
  });
  const DLTensor& t = managed->dl_tensor;
  if (t.dtype.lanes != 1 ||
      !((t.dtype.code == kDLFloat && t.dtype.bits == 32) || (t.dtype.code == kDLUInt && t.dtype.bits == 8)))
    fail("{}: DLPack arrays of type code {} with {} bits are not taken: give float32 (or uint8 images)", what,
         static_cast<int>(t.dtype.code), static_cast<int>(t.dtype.bits));
  in.uint8 = t.dtype.code == kDLUInt;
  int64_t expected_stride = 1;
  for (int axis = t.ndim - 1; axis >= 0; --axis) {
    if (t.strides && t.shape[axis] > 1 && t.strides[axis] != expected_stride)
      fail("{}: a non-contiguous array (make it contiguous first, e.g. .contiguous())", what);
    expected_stride *= t.shape[axis];
  }
  for (int axis = 0; axis < t.ndim; ++axis) in.dims.push_back(static_cast<int>(t.shape[axis]));
  in.data = static_cast<const char*>(t.data) + t.byte_offset;
  if (t.device.device_type == kDLCUDA) {
    in.device = Device::cuda;
    in.device_index = t.device.device_id;
  } else if (t.device.device_type != kDLCPU && t.device.device_type != kDLCUDAHost) {
    fail("{}: arrays on DLPack device type {} are not taken (CPU or CUDA)", what,
         static_cast<int>(t.device.device_type));
  }
  return in;
}

InputArray read_input(const py::object& object, const std::string& what) {
  if (py::isinstance<py::array>(object)) return from_numpy(object, what);
  if (py::hasattr(object, "__dlpack__")) return from_dlpack(object, what);
  return from_numpy(py::module_::import("numpy").attr("asarray")(object), what);
}

// Class indexes as floats (the engine's labels), checked against the number of classes.
std::vector<float> read_labels(const py::object& labels, int count, int classes, const std::string& what) {
  py::array_t<double, py::array::c_style | py::array::forcecast> values;
  try {
    values = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(
        py::module_::import("numpy").attr("asarray")(labels));
  } catch (const py::error_already_set& e) {
    fail("{}: not an array of class indexes on the CPU ({})", what, e.what());
  }
  if (!values || values.ndim() != 1 || values.shape(0) != count)
    fail("{}: expected {} class indexes (one per input), got an array of shape {}", what, count,
         values ? shape_text(std::vector<int>(values.shape(), values.shape() + values.ndim())) : "?");
  std::vector<float> out(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const double label = values.at(i);
    if (!(label >= 0 && label < classes) || label != std::floor(label))
      fail("{}[{}] = {}: class indexes must be integers in [0, {})", what, i, label, classes);
    out[static_cast<size_t>(i)] = static_cast<float>(label);
  }
  return out;
}

Tensor on_backend(Tensor host, Backend& backend) {
  return backend.device() == Device::cpu ? host : backend.to_device(host);
}

}  // namespace

Batch batch_from_arrays(const py::object& inputs, const py::object& labels, const Shape& sample, int classes,
                        Backend& backend) {
  InputArray x = read_input(inputs, "x");
  const int count = x.dims.empty() ? 0 : x.dims[0];
  const size_t per_sample = std::accumulate(x.dims.begin() + (x.dims.empty() ? 0 : 1), x.dims.end(), size_t{1},
                                            [](size_t a, int b) { return a * static_cast<size_t>(b); });
  if (count < 1 || per_sample != sample.numel())
    fail("x: an array of shape {}, but the net takes samples of shape {}: give (N, {}) or (N, {}) with N >= 1",
         shape_text(x.dims), sample.str(), shape_text(sample.dims()).substr(1, shape_text(sample.dims()).size() - 2),
         sample.numel());
  std::vector<int> dims{count};
  dims.insert(dims.end(), sample.dims().begin(), sample.dims().end());
  const Shape shape(dims);
  Batch batch;
  if (x.device == Device::cuda) {
    if (backend.device() != Device::cuda)
      fail("x is on cuda:{} but this trainer runs on the CPU: give a CPU array", x.device_index);
    if (x.uint8) fail("x: uint8 images on the GPU are not taken: convert them to float32 in [0, 1] first");
    batch.inputs = Tensor::borrow(shape, Device::cuda, static_cast<float*>(const_cast<void*>(x.data)), x.owner);
  } else if (x.uint8) {
    Tensor host(shape);
    const auto* bytes = static_cast<const uint8_t*>(x.data);
    for (size_t i = 0; i < host.numel(); ++i) host.data()[i] = static_cast<float>(bytes[i]) / 255.0f;
    batch.inputs = on_backend(std::move(host), backend);
  } else {
    batch.inputs = on_backend(
        Tensor::borrow(shape, Device::cpu, static_cast<float*>(const_cast<void*>(x.data)), x.owner), backend);
  }
  const std::vector<float> y = read_labels(labels, count, classes, "y");
  batch.labels = on_backend(Tensor::from(Shape({count}), y), backend);
  return batch;
}

py::array_t<float> array_copy(const Tensor& tensor, Backend& backend) {
  const Tensor host = tensor.device() == Device::cpu ? tensor : backend.to_host(tensor);
  const std::vector<int>& dims = host.shape().dims();
  py::array_t<float> array(std::vector<py::ssize_t>(dims.begin(), dims.end()));
  std::memcpy(array.mutable_data(), host.data(), host.numel() * sizeof(float));
  return array;
}

void set_from_array(Tensor& tensor, const py::object& array, Backend& backend, const std::string& what) {
  const auto values = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(
      py::module_::import("numpy").attr("asarray")(array));
  if (!values) fail("{}: not an array of numbers", what);
  const std::vector<int> given(values.shape(), values.shape() + values.ndim());
  if (given != tensor.shape().dims())
    fail("{}: an array of shape {} given, the parameter has shape {}", what, shape_text(given),
         shape_text(tensor.shape().dims()));
  const Tensor host = Tensor::from(tensor.shape(), std::span<const float>(values.data(), tensor.numel()));
  if (tensor.device() == Device::cpu)
    std::memcpy(tensor.data(), host.data(), host.numel() * sizeof(float));
  else
    backend.copy(backend.to_device(host), tensor);
}

// --- DLPack views of tensors

namespace {

struct TensorView {
  Tensor tensor;
  Backend* backend = nullptr;
  int device_index = 0;
  py::object keep_alive;
};

// What a capsule owns: the DLPack description, the shape it points to, and the tensor's storage.
struct ExportedTensor {
  DLManagedTensor managed{};
  std::vector<int64_t> shape;
  Tensor tensor;
  std::shared_ptr<void> keep_alive;
};

py::capsule export_dlpack(TensorView& view) {
  view.backend->synchronize();  // the consumer reads on its own stream: every queued update is done first
  auto* exported = new ExportedTensor;
  exported->tensor = view.tensor;
  exported->keep_alive = hold(view.keep_alive);
  exported->shape.assign(view.tensor.shape().dims().begin(), view.tensor.shape().dims().end());
  DLTensor& t = exported->managed.dl_tensor;
  t.data = exported->tensor.data();
  t.device = {view.tensor.device() == Device::cuda ? kDLCUDA : kDLCPU,
              view.tensor.device() == Device::cuda ? view.device_index : 0};
  t.ndim = static_cast<int>(exported->shape.size());
  t.dtype = {kDLFloat, 32, 1};
  t.shape = exported->shape.data();
  t.strides = nullptr;  // compact, row-major
  t.byte_offset = 0;
  exported->managed.manager_ctx = exported;
  exported->managed.deleter = [](DLManagedTensor* m) { delete static_cast<ExportedTensor*>(m->manager_ctx); };
  return py::capsule(&exported->managed, "dltensor", [](PyObject* capsule) {
    // Never consumed: the capsule still owns the tensor (a consumer renames it "used_dltensor").
    if (PyCapsule_IsValid(capsule, "dltensor")) {
      auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
      m->deleter(m);
    }
  });
}

}  // namespace

py::object dlpack_view(const Tensor& tensor, Backend& backend, int device_index, py::object keep_alive) {
  return py::cast(TensorView{tensor, &backend, device_index, std::move(keep_alive)});
}

void bind_dlpack_view(py::module_& m) {
  py::class_<TensorView>(m, "TensorView",
                         "A parameter's memory, shared (no copy): numpy.from_dlpack(view) or torch.from_dlpack(view) "
                         "reads it in place, and sees the trainer's later updates.")
      .def(
          "__dlpack__", [](TensorView& view, const py::object& /*stream*/) { return export_dlpack(view); },
          py::arg("stream") = py::none())
      .def("__dlpack_device__",
           [](const TensorView& view) {
             return view.tensor.device() == Device::cuda ? py::make_tuple(static_cast<int>(kDLCUDA), view.device_index)
                                                         : py::make_tuple(static_cast<int>(kDLCPU), 0);
           })
      .def_property_readonly("shape",
                             [](const TensorView& view) { return py::tuple(py::cast(view.tensor.shape().dims())); });
}

}  // namespace bioprop::python
