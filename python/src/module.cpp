// The module `bioprop._bioprop`: the command line's train and list with keywords for flags, checkpoints'
// arrays, and the Dataset and Trainer classes (their own files). Training runs without the GIL; C++ errors
// (bioprop::Error) arrive as bioprop.Error, a ValueError.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cstring>

#include "bioprop/builtin_nets.hpp"
#include "bioprop/data.hpp"
#include "bioprop/error.hpp"
#include "bioprop/rule.hpp"
#include "bioprop/trainer.hpp"
#include "python_module.hpp"

namespace py = pybind11;

namespace bioprop::python {
namespace {

py::dict train_from_python(const py::kwargs& keywords) {
  const TrainKeywords parsed = parse_train_keywords(keywords, "bioprop.train");
  const TrainConfig c = merge_train_flags(parsed.flags);
  const std::filesystem::path folder = new_run_folder(c);
  TrainSummary summary;
  run_stoppable([&] { summary = train_with_config(c, parsed.flags, folder, parsed.data(c)); });
  if (summary.interrupted) raise_interrupted(summary);
  return summary_dict(summary, folder);
}

// Every array of a checkpoint as a NumPy copy, by parameter name (weights, biases, batch norm's
// parameters and statistics, feedback matrices).
py::dict checkpoint_arrays(const std::string& path) {
  py::dict arrays;
  for (const auto& [name, tensor] : read_checkpoint_tensors(path)) {
    const std::vector<int>& dims = tensor.shape().dims();
    py::array_t<float> array(std::vector<py::ssize_t>(dims.begin(), dims.end()));
    std::memcpy(array.mutable_data(), tensor.data(), tensor.numel() * sizeof(float));
    arrays[py::str(name)] = array;
  }
  return arrays;
}

}  // namespace
}  // namespace bioprop::python

PYBIND11_MODULE(_bioprop, m) {
  using namespace bioprop;
  using namespace bioprop::python;
  m.doc() = "bioprop's engine: training with biologically plausible learning rules";
  py::register_exception<Error>(m, "Error", PyExc_ValueError);
  bind_dataset(m);
  bind_dlpack_view(m);
  bind_trainer(m);
  m.def("train", &train_from_python,
        "Trains as `bioprop train` does; every flag is a keyword (dashes as underscores), rule options a dict "
        "(rule_options={'sigma': 0.01}), progress=True shows the progress bar. Returns a dict: run_folder, "
        "epochs (a dict per epoch), final_test_accuracy, best_test_accuracy, epochs_to_target (None: not reached).");
  m.def("checkpoint_arrays", &checkpoint_arrays, py::arg("path"),
        "Every array a checkpoint holds, as NumPy copies by parameter name: the net's weights, biases and batch "
        "norm statistics, and the rule's own matrices (feedback weights).");
  m.def(
      "list_rules",
      [] {
        py::list out;
        for (const RuleInfo& r : registered_rules())
          out.append(py::dict(py::arg("name") = r.name, py::arg("description") = r.description));
        return out;
      },
      "The learning rules: a dict (name, description) each.");
  m.def(
      "list_nets",
      [] {
        py::list out;
        for (const BuiltinNet& n : builtin_nets())
          out.append(py::dict(py::arg("name") = n.name, py::arg("description") = net_description(
                                                            {n.name, "built-in net '" + n.name + "'", n.toml})));
        return out;
      },
      "The built-in nets: a dict (name, description) each.");
  m.def(
      "list_datasets",
      [] {
        py::list out;
        for (const DatasetInfo& d : known_datasets())
          out.append(py::dict(py::arg("name") = d.name, py::arg("description") = d.description,
                              py::arg("default_dir") = d.default_dir));
        return out;
      },
      "The datasets bioprop reads: a dict (name, description, default_dir) each.");
}
