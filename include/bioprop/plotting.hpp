#pragma once
// Plots drawn with gnuplot (Debian's gnuplot-nox): the script is written beside the data, so a
// researcher can edit and re-run it; without gnuplot the run goes on and only the plot is missing.
#include <string>

namespace bioprop {

// Writes `script` to <folder>/<script_name> and runs gnuplot on it in that folder. False (after a
// warning naming the folder) when gnuplot is missing or fails.
bool draw_with_gnuplot(const std::string& folder, const std::string& script_name, const std::string& script);

}  // namespace bioprop
