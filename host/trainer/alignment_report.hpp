#pragma once
// The run folder's record of --alignment: alignment.csv (one row per epoch, one column per layer and
// angle) and alignment.png, drawn by gnuplot from alignment.gp, so that users see B and the updates
// align with backprop over training.
#include <filesystem>
#include <string>
#include <vector>

#include "bioprop/trainer.hpp"

namespace bioprop {

// Rewrites alignment.csv (atomically) from the epochs that measured alignment; nothing when none did.
void write_alignment_metrics(const std::filesystem::path& folder, const std::vector<EpochMetrics>& epochs);
// Draws alignment.png from alignment.csv (a warning, not an error, without gnuplot).
void plot_alignment(const std::string& folder, const std::string& title);

}  // namespace bioprop
