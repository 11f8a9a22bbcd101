#pragma once
// The flags of a training run, shared by `bioprop train`, `bioprop compare` (whose --epochs is each run's
// most) and the Python module, so they cannot drift apart.
#include <CLI/CLI.hpp>

#include "app/commands.hpp"

namespace bioprop {

void add_training_options(CLI::App& command, TrainFlags& t, const char* epochs_name, const char* epochs_help);

}  // namespace bioprop
