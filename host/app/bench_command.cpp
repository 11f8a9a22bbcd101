// `bioprop bench`: training steps per second of rules on nets, side by side on one device, with
// synthetic data of a dataset's shape (the default run's settings, training mode), and the peak
// memory of each: the process's resident memory (peak reset before each row, as the PyTorch peer
// script does) and, on a GPU, the device memory the step's tensors held.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "bioprop/device.hpp"
#include "bioprop/device_memory.hpp"
#include "bioprop/error.hpp"
#include "bioprop/process_memory.hpp"
#include "bioprop/step_timing.hpp"
#include "bioprop/trainer.hpp"

namespace bioprop {

namespace {
// A CSV field as RFC 4180 writes it: quoted when it holds a comma or a quote (backend names do:
// "cpu (oneDNN convolutions, oneDNN sgemm, OpenMP)").
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}
}  // namespace

int run_bench(const BenchFlags& flags) {
  if (flags.steps < 1) fail("--steps must be at least 1, got {}", flags.steps);
  if (flags.shape.empty()) fail("--shape needs at least one size, e.g. 3 32 32");
  for (int size : flags.shape)
    if (size < 1) fail("--shape: sizes must be at least 1, got {}", size);
  const DeviceChoice device = choose_device(flags.device);
  auto backend = make_backend(device, flags.tf32);
  spdlog::info("device: {}", device.description);
  const Shape sample(flags.shape);
  std::string csv =
      "device,rule,net,batch,ms_per_step,images_per_second,epoch_seconds_50k,ms_per_forward,peak_resident_mib,"
      "peak_device_mib\n";
  fmt::print("{:<16} {:<8} {:>6} {:>12} {:>12} {:>16} {:>14} {:>14} {:>12}\n", "rule", "net", "batch", "ms/step",
             "images/s", "s per 50k images", "ms/forward", "resident MiB", "device MiB");
  constexpr double mib = 1024.0 * 1024.0;
  for (const std::string& net : flags.nets)
    for (const std::string& rule : flags.rules) {
      const int batch = flags.batch_size > 0 ? flags.batch_size : reference_batch_size(net);
      reset_peak_resident_memory();
      if (device.device == Device::cuda) reset_device_memory_peak();
      TrainingStep step(rule, net, sample, flags.classes, batch, *backend);
      const StepTiming t = time_training_steps(step, flags.warmup, flags.steps);
      const double resident = static_cast<double>(peak_resident_bytes()) / mib,
                   on_device = device.device == Device::cuda
                                   ? static_cast<double>(device_memory_stats().peak_bytes) / mib
                                   : 0.0;
      fmt::print("{:<16} {:<8} {:>6} {:>12.2f} {:>12.0f} {:>16.1f} {:>14.2f} {:>14.0f} {:>12.0f}\n", rule, net, batch,
                 1e3 * t.seconds_per_step, t.images_per_second(), 50000.0 / t.images_per_second(),
                 1e3 * t.seconds_per_forward, resident, on_device);
      csv += fmt::format("{},{},{},{},{:.4f},{:.1f},{:.2f},{:.4f},{:.1f},{:.1f}\n", csv_field(backend->name()), rule,
                         net, batch, 1e3 * t.seconds_per_step, t.images_per_second(), 50000.0 / t.images_per_second(),
                         1e3 * t.seconds_per_forward, resident, on_device);
    }
  if (!flags.csv.empty()) {
    write_file_atomically(flags.csv, csv);
    spdlog::info("wrote {}", flags.csv);
  }
  return 0;
}

}  // namespace bioprop
