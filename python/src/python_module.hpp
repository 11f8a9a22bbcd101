#pragma once
// The Python module's C++ side, shared by its files: keywords into the command line's flags, arrays into
// tensors and back, and the pieces each file binds.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>

#include "app/commands.hpp"

namespace bioprop::python {

namespace py = pybind11;

// `bioprop.Dataset`: training (and validation) and test images held in memory, made from arrays.
struct ArrayDataset {
  std::shared_ptr<const DataSplits> splits;
};

// `bioprop.train`'s and `bioprop.Trainer`'s keywords: every flag of `bioprop train` (dashes as underscores),
// rule options as a dict, and `dataset` as a name or a bioprop.Dataset. `caller` names the function in errors.
struct TrainKeywords {
  TrainFlags flags;
  std::shared_ptr<const DataSplits> arrays;  // set when `dataset` was a bioprop.Dataset (its train and test sets)
  // The data a run trains on: the arrays split as `c` asks (validation, limits), or null (c names a dataset).
  std::shared_ptr<const DataSplits> data(const TrainConfig& c) const;
};
TrainKeywords parse_train_keywords(const py::kwargs& keywords, const std::string& caller);
// One epoch's metrics as a dict (the columns of metrics.csv).
py::dict epoch_dict(const EpochMetrics& m);
// What bioprop.train returns: run_folder, epochs (a dict each), final_test_accuracy, best_test_accuracy,
// epochs_to_target (None: not reached).
py::dict summary_dict(const TrainSummary& summary, const std::filesystem::path& folder);
// Trains while a Ctrl-C (SIGINT) or SIGTERM only asks the engine to stop after the current step (with a
// checkpoint), as on the command line, when called from Python's main thread; runs `work` without the GIL.
// Returns the signal that stopped it, or 0.
int run_stoppable(const std::function<void()>& work);
// Raises KeyboardInterrupt naming the checkpoint a stopped run can continue from.
[[noreturn]] void raise_interrupted(const TrainSummary& summary);

// A batch for `backend` from an array of inputs (N x sample shape; float32 as is, uint8 scaled to [0, 1]) and
// one of class indexes. Arrays with the buffer protocol or DLPack; float32 on the backend's device is used in
// place, without a copy.
Batch batch_from_arrays(const py::object& inputs, const py::object& labels, const Shape& sample, int classes,
                        Backend& backend);
// A NumPy copy of a tensor (on any device).
py::array_t<float> array_copy(const Tensor& tensor, Backend& backend);
// Copies an array of the tensor's shape into it; `what` names it in errors.
void set_from_array(Tensor& tensor, const py::object& array, Backend& backend, const std::string& what);
// An object with __dlpack__ and __dlpack_device__ over `tensor`'s memory (no copy): NumPy's and PyTorch's
// from_dlpack read it in place. `keep_alive` (the Trainer) lives as long as any view of it.
py::object dlpack_view(const Tensor& tensor, Backend& backend, int device_index, py::object keep_alive);
// A dataset of `name` from host arrays: inputs N x C x H x W or N x features (float32, or uint8 scaled to
// [0, 1]), labels N class indexes in [0, classes).
Dataset dataset_from_arrays(const py::object& inputs, const py::object& labels, int classes, const std::string& name,
                            const std::string& what);

void bind_dataset(py::module_& m);
void bind_trainer(py::module_& m);
void bind_dlpack_view(py::module_& m);

}  // namespace bioprop::python
