// bioprop.Dataset: any data a user has in Python (torchvision's CIFAR-10, their own recordings) as arrays, trained
// through the same batch scheduler (shuffled, prefetched, augmented) as the built-in readers' datasets.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "bioprop/error.hpp"
#include "python_module.hpp"

namespace bioprop::python {

Dataset dataset_from_arrays(const py::object& inputs, const py::object& labels, int classes, const std::string& name,
                            const std::string& what) {
  // A host copy in the engine's layout (float32 in [0, 1] for uint8): the arrays may change after this call.
  static const std::unique_ptr<Backend> host = make_cpu_backend();
  const py::array array = py::module_::import("numpy").attr("asarray")(inputs);
  if (array.ndim() != 2 && array.ndim() != 4)
    fail("{}: an array of {} axes given: expected N x features or N x C x H x W", what, array.ndim());
  const Batch batch = batch_from_arrays(array, labels, Shape([&] {
                                          std::vector<int> sample;
                                          for (py::ssize_t axis = 1; axis < array.ndim(); ++axis)
                                            sample.push_back(static_cast<int>(array.shape(axis)));
                                          return sample;
                                        }()),
                                        classes, *host);
  Dataset d;
  d.name = name;
  d.images = batch.inputs.clone();
  d.labels = batch.labels.clone();
  d.classes = classes;
  return d;
}

void bind_dataset(py::module_& m) {
  py::class_<ArrayDataset>(m, "Dataset",
                           "Training and test images held in memory; pass it as train(dataset=...) or "
                           "Trainer(dataset=...).")
      .def_static(
          "from_arrays",
          [](const py::object& x_train, const py::object& y_train, const py::object& x_test, const py::object& y_test,
             const py::object& classes, const std::string& name) {
            const auto largest = [](const py::object& labels) {
              const py::object numpy = py::module_::import("numpy");
              const py::array values = numpy.attr("asarray")(labels);
              return values.size() == 0 ? -1 : py::cast<double>(numpy.attr("max")(values));
            };
            const int count = classes.is_none() ? static_cast<int>(std::max(largest(y_train), largest(y_test))) + 1
                                                : classes.cast<int>();
            if (count < 2) fail("Dataset.from_arrays: {} classes: a classification needs at least 2", count);
            DataSplits splits;
            splits.train = dataset_from_arrays(x_train, y_train, count, name, "x_train");
            splits.test = dataset_from_arrays(x_test, y_test, count, name, "x_test");
            if (splits.train.sample_shape() != splits.test.sample_shape())
              fail("Dataset.from_arrays: training samples of shape {} but test samples of shape {}",
                   splits.train.sample_shape().str(), splits.test.sample_shape().str());
            return ArrayDataset{std::make_shared<const DataSplits>(std::move(splits))};
          },
          py::arg("x_train"), py::arg("y_train"), py::arg("x_test"), py::arg("y_test"), py::arg("classes") = py::none(),
          py::arg("name") = "arrays",
          "Inputs N x C x H x W or N x features (float32, or uint8 scaled to [0, 1]) and labels of class indexes "
          "(classes: the largest label + 1 unless given). The arrays are copied.")
      .def_property_readonly("name", [](const ArrayDataset& d) { return d.splits->train.name; })
      .def_property_readonly("classes", [](const ArrayDataset& d) { return d.splits->train.classes; })
      .def_property_readonly("train_size", [](const ArrayDataset& d) { return d.splits->train.size(); })
      .def_property_readonly("test_size", [](const ArrayDataset& d) { return d.splits->test.size(); })
      .def_property_readonly(
          "sample_shape",
          [](const ArrayDataset& d) { return py::tuple(py::cast(d.splits->train.sample_shape().dims())); })
      .def("__repr__", [](const ArrayDataset& d) {
        return fmt::format("bioprop.Dataset('{}': {} train, {} test samples of shape {}, {} classes)",
                           d.splits->train.name, d.splits->train.size(), d.splits->test.size(),
                           d.splits->train.sample_shape().str(), d.splits->train.classes);
      });
}

}  // namespace bioprop::python
