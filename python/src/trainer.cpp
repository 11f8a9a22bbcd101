// bioprop.Trainer: step-level control of one run for research code. It is the engine's TrainingRun (the epoch
// loop of `bioprop train`) over the pieces `bioprop train` builds, so fit_epoch() gives the command line's
// numbers, save() writes its checkpoints, and load() continues any checkpoint bit for bit.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <map>

#include "bioprop/builtin_nets.hpp"
#include "bioprop/error.hpp"
#include "bioprop/json_fields.hpp"
#include "bioprop/options_json.hpp"
#include "bioprop/signal_shield.hpp"
#include "python_module.hpp"

namespace bioprop::python {
namespace {

class Trainer {
 public:
  Trainer(const TrainKeywords& parsed, const TrainConfig& c) : folder_(new_run_folder(c)) { start(parsed, c); }
  // A run continued from a checkpoint: its rule, net, data and optimiser, unless `keywords` say otherwise.
  Trainer(const std::string& checkpoint, const py::kwargs& keywords);

  py::dict fit_epoch() {
    bool finished = false;
    run_stoppable([&] { finished = run_->run_epoch(); });
    if (!finished) raise_interrupted(run_->summary());
    return epoch_dict(run_->summary().epochs.back());
  }

  py::dict step(const py::object& inputs, const py::object& labels) {
    const DataSplits& data = *setup_.data;
    const Batch batch =
        batch_from_arrays(inputs, labels, data.train.sample_shape(), data.train.classes, *setup_.backend);
    StepResult result;
    {
      const py::gil_scoped_release unlocked;
      const ComputeThreadsShielded shield;  // Python's own SIGINT handler must not run on a compute thread
      result = run_->step(batch);
    }
    return py::dict(py::arg("loss") = result.loss,
                    py::arg("accuracy") = static_cast<double>(result.correct) / batch.size());
  }

  py::dict evaluate(const std::string& split) {
    const DataSplits& data = *setup_.data;
    const Dataset* set = split == "test"         ? &data.test
                         : split == "validation" ? &data.validation
                         : split == "train"      ? &data.train
                                                 : nullptr;
    if (set == nullptr) fail("Trainer.evaluate: split '{}': expected 'test', 'validation' or 'train'", split);
    if (set->size() == 0)
      fail("Trainer.evaluate: the {} split is empty (validation=N makes a validation split)", split);
    Evaluation e;
    {
      const py::gil_scoped_release unlocked;
      const ComputeThreadsShielded shield;
      e = run_->evaluate(*set);
    }
    return py::dict(py::arg("loss") = e.loss, py::arg("accuracy") = e.accuracy);
  }

  void save(const std::string& path) {
    const py::gil_scoped_release unlocked;
    run_->save(path);
  }

  py::dict finish() { return summary_dict(run_->finish(), folder_); }

  std::vector<std::string> parameter_names() const {
    std::vector<std::string> names;
    for (const Parameter* p : parameters_) names.push_back(p->name);
    return names;
  }

  Parameter& parameter(const std::string& name) {
    for (Parameter* p : parameters_)
      if (p->name == name) return *p;
    std::string known;
    for (const Parameter* p : parameters_) known += (known.empty() ? "" : ", ") + p->name;
    fail("no parameter '{}' in this trainer (its parameters: {})", name, known);
  }
  Tensor& tensor(const std::string& name, bool gradient) {
    Parameter& p = parameter(name);
    if (gradient && p.grad.empty()) fail("parameter '{}' has no gradient yet: take a step first", name);
    return gradient ? p.grad : p.value;
  }

  py::array_t<float> get(const std::string& name, bool gradient) {
    return array_copy(tensor(name, gradient), *setup_.backend);
  }
  py::dict arrays(bool gradient) {
    py::dict out;
    for (Parameter* p : parameters_)
      if (!gradient || !p->grad.empty())
        out[py::str(p->name)] = array_copy(gradient ? p->grad : p->value, *setup_.backend);
    return out;
  }
  void set(const std::string& name, const py::object& array) {
    set_from_array(parameter(name).value, array, *setup_.backend, name);
  }
  py::object view(const py::object& self, const std::string& name, bool gradient) {
    return dlpack_view(tensor(name, gradient), *setup_.backend, setup_.device_index, self);
  }

  int epoch() const { return run_->epoch(); }
  const std::filesystem::path& folder() const { return folder_; }
  py::list metrics() const {
    py::list out;
    for (const EpochMetrics& m : run_->summary().epochs) out.append(epoch_dict(m));
    return out;
  }
  std::string device() const { return setup_.backend->name(); }

 private:
  void start(const TrainKeywords& parsed, const TrainConfig& c) {
    setup_ = prepare_training(c, parsed.flags, folder_, parsed.data(c));
    run_ = std::make_unique<TrainingRun>(*setup_.network, *setup_.rule, *setup_.optimizer, *setup_.data,
                                         *setup_.backend, setup_.settings);
    parameters_ = setup_.network->parameters();
    for (Parameter* p : setup_.rule->rule_parameters())
      if (std::find(parameters_.begin(), parameters_.end(), p) == parameters_.end()) parameters_.push_back(p);
  }

  std::filesystem::path folder_;
  TrainingSetup setup_;
  std::unique_ptr<TrainingRun> run_;
  std::vector<Parameter*> parameters_;
};

// The settings a checkpoint was trained with, from its record, as the base that keywords override.
TrainConfig config_of_checkpoint(const std::string& path, const nlohmann::json& record) {
  TrainConfig c;
  c.rule = json_field<std::string>(record, "rule", path);
  if (record.contains("rule_options"))
    c.rule_options = options_from_json(record["rule_options"], path + " rule_options");
  c.net = json_field<std::string>(record, "net", path);
  const nlohmann::json bias = json_field<nlohmann::json>(record, "bias", path);
  c.net_overrides.bias = bias.is_null() ? std::nullopt : std::optional<bool>(json_value<bool>(bias, path, "bias"));
  c.data.name = json_field<std::string>(record, "dataset", path);
  c.batch_size = json_field<int>(record, "batch_size", path);
  c.epochs = std::max(json_field<int>(record, "epochs", path), json_field<int>(record, "epoch", path) + 1);
  c.seed = json_field<uint64_t>(record, "seed", path);
  c.augmentation.crop_padding = json_field_or<int>(record, "augment_crop", 0, path);
  c.augmentation.horizontal_flip = json_field_or<bool>(record, "augment_flip", false, path);
  if (!record.contains("optimizer_name"))
    fail("{}: written before checkpoints kept their optimiser's settings: continue it with `bioprop train --resume`",
         path);
  c.optimizer = json_field<std::string>(record, "optimizer_name", path);
  c.optimizer_options = options_from_json(record["optimizer_options"], path + " optimizer_options");
  c.resume = path;
  return c;
}

Trainer::Trainer(const std::string& checkpoint, const py::kwargs& keywords) {
  const nlohmann::json record = read_checkpoint_record(checkpoint);
  TrainKeywords parsed = parse_train_keywords(keywords, "bioprop.Trainer.load");
  TrainConfig base = config_of_checkpoint(checkpoint, record);
  const bool builtin = std::any_of(builtin_nets().begin(), builtin_nets().end(),
                                   [&](const BuiltinNet& n) { return n.name == base.net; });
  const bool from_arrays = std::none_of(known_datasets().begin(), known_datasets().end(),
                                        [&](const DatasetInfo& d) { return d.name == base.data.name; });
  if (from_arrays && !parsed.arrays)
    fail(
        "{} was trained on arrays ('{}'): pass them again, Trainer.load(path, "
        "dataset=bioprop.Dataset.from_arrays(...))",
        checkpoint, base.data.name);
  TrainConfig c = merge_train_flags(parsed.flags, base);
  folder_ = new_run_folder(c);
  if (!builtin && !parsed.flags.net) {  // the net's definition travels in the record
    const std::filesystem::path net_file = folder_ / (std::filesystem::path(base.net).stem().string() + ".toml");
    write_file_atomically(net_file.string(), json_field<std::string>(record, "net_toml", checkpoint));
    c.net = net_file.string();
  }
  start(parsed, c);
}

}  // namespace

void bind_trainer(py::module_& m) {
  py::class_<Trainer>(m, "Trainer",
                      "One training run, driven a step or an epoch at a time. Trainer(**keywords) takes the "
                      "keywords of bioprop.train (dataset may be a bioprop.Dataset) and writes its run folder as "
                      "`bioprop train` does.")
      .def(py::init([](const py::kwargs& keywords) {
        TrainKeywords parsed = parse_train_keywords(keywords, "bioprop.Trainer");
        return std::make_unique<Trainer>(parsed, merge_train_flags(parsed.flags));
      }))
      .def_static(
          "load",
          [](const std::string& checkpoint, const py::kwargs& keywords) {
            return std::make_unique<Trainer>(checkpoint, keywords);
          },
          py::arg("checkpoint"),
          "Continues the run a checkpoint holds (its rule, net, data, optimiser and position, bit for bit); keywords "
          "override its settings (dataset= is needed for a run trained on arrays).")
      .def("fit_epoch", &Trainer::fit_epoch,
           "Trains the epoch in progress through the batch scheduler, evaluates, writes metrics and a checkpoint; "
           "returns the epoch's metrics. Ctrl-C stops after the current step with a checkpoint (KeyboardInterrupt).")
      .def("step", &Trainer::step, py::arg("x"), py::arg("y"),
           "One optimiser step on a batch: x of shape N x sample (float32 is used in place on the trainer's device; "
           "uint8 is scaled to [0, 1]), y class indexes. Returns the batch's loss and accuracy before the update.")
      .def("evaluate", &Trainer::evaluate, py::arg("split") = "test",
           "Loss and accuracy on 'test', 'validation' or 'train' (the rule's own inference).")
      .def("save", &Trainer::save, py::arg("path"),
           "Writes a checkpoint that Trainer.load and `bioprop train --resume` continue.")
      .def("finish", &Trainer::finish, "Writes summary.json and the plots; returns what bioprop.train returns.")
      .def("parameter_names", &Trainer::parameter_names,
           "Every array the trainer holds: weights, biases, batch norm's parameters and statistics, feedback matrices.")
      .def("get", &Trainer::get, py::arg("name"), py::arg("gradient") = false,
           "A NumPy copy of a parameter (or of its last update, gradient=True).")
      .def("set", &Trainer::set, py::arg("name"), py::arg("array"), "Sets a parameter from an array of its shape.")
      .def(
          "weights", [](Trainer& t) { return t.arrays(false); }, "Every parameter as a NumPy copy, by name.")
      .def(
          "gradients", [](Trainer& t) { return t.arrays(true); },
          "Every parameter's last update (what the optimiser descends) as a NumPy copy, by name.")
      .def(
          "dlpack",
          [](py::object self, const std::string& name, bool gradient) {
            return self.cast<Trainer&>().view(self, name, gradient);
          },
          py::arg("name"), py::arg("gradient") = false,
          "The parameter's memory without a copy, for numpy.from_dlpack or torch.from_dlpack (on the GPU there).")
      .def_property_readonly("epoch", &Trainer::epoch, "The epoch in progress (or the next one).")
      .def_property_readonly("run_folder", &Trainer::folder)
      .def_property_readonly("metrics", &Trainer::metrics, "The finished epochs' metrics, a dict each.")
      .def_property_readonly("device", &Trainer::device);
}

}  // namespace bioprop::python
