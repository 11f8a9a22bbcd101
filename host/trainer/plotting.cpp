#include "bioprop/plotting.hpp"

#include <spdlog/spdlog.h>

#include <pthread.h>

#include <cstdlib>
#include <filesystem>

#include "bioprop/signal_shield.hpp"

#include "bioprop/trainer.hpp"

namespace bioprop {

bool draw_with_gnuplot(const std::string& folder, const std::string& script_name, const std::string& script) {
  const std::filesystem::path dir(folder);
  write_file_atomically((dir / script_name).string(), script);
  const std::string command =
      fmt::format("cd '{}' && gnuplot '{}' > /dev/null 2>&1", std::filesystem::absolute(dir).string(), script_name);
  // gnuplot inherits this thread's signal mask: unblock what a ComputeThreadsShielded blocked, so that SIGTERM
  // still ends it. This thread only waits for it meanwhile.
  const sigset_t signals = stop_signals();
  sigset_t before;
  pthread_sigmask(SIG_UNBLOCK, &signals, &before);
  const int status = std::system(command.c_str());
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (status == 0) return true;
  spdlog::warn("gnuplot did not draw {} (install Debian's gnuplot-nox); the data and the script are in {}", script_name,
               folder);
  return false;
}

}  // namespace bioprop
