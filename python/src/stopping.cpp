// Ctrl-C in a notebook or a terminal stops training safely, as on the command line: while the engine trains
// (without the GIL) its own handlers take SIGINT and SIGTERM, so the current step finishes and a checkpoint is
// written; Python's handlers are back before Python runs again, and KeyboardInterrupt says where to continue.
#include <fmt/format.h>

#include <csignal>
#include <optional>

#include "bioprop/error.hpp"
#include "bioprop/stop_request.hpp"
#include "python_module.hpp"

namespace bioprop::python {

int run_stoppable(const std::function<void()>& work) {
  // Signal handlers belong to the main thread's interpreter; elsewhere a stop can only come from request_stop.
  const bool main_thread = py::module_::import("threading")
                               .attr("current_thread")()
                               .is(py::module_::import("threading").attr("main_thread")());
  std::optional<StopOnSignals> handlers;
  if (main_thread) handlers.emplace();
  clear_stop_request();
  {
    const py::gil_scoped_release unlocked;  // other Python threads run while the engine trains
    work();
  }
  const int signal = stop_requested();
  clear_stop_request();
  return signal;
}

void raise_interrupted(const TrainSummary& summary) {
  const std::string where =
      summary.checkpoint.empty()
          ? std::string("no checkpoint was written (no run folder)")
          : fmt::format("checkpoint written to {}; bioprop.Trainer.load('{}') continues from there", summary.checkpoint,
                        summary.checkpoint);
  PyErr_SetString(PyExc_KeyboardInterrupt, fmt::format("training stopped in epoch {} after batch {}: {}",
                                                       summary.stopped_at_epoch, summary.batches_done, where)
                                               .c_str());
  throw py::error_already_set();
}

}  // namespace bioprop::python
