// The job of one process, and the choice of MPI's world when a launcher started this process.
#include <cstdlib>

#include "bioprop/distributed.hpp"

namespace bioprop {

#ifdef BIOPROP_WITH_MPI
std::unique_ptr<Communicator> make_mpi_communicator();  // host/distributed/mpi_communicator.cpp
#endif

namespace {
// mpirun (Open MPI, MPICH, PMIx) and Slurm's srun name the rank in the environment.
bool launched_as_a_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_PROCID"})
    if (std::getenv(name)) return true;
  return false;
}
}  // namespace

NodePlace node_place() {
  const auto number = [](std::initializer_list<const char*> names, int fallback) {
    for (const char* name : names)
      if (const char* value = std::getenv(name)) return std::atoi(value);
    return fallback;
  };
  return {number({"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"}, 0),
          number({"OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE", "MPI_LOCALNRANKS"}, 1)};
}

Communicator& job() {
  static std::unique_ptr<Communicator> communicator = [] {
#ifdef BIOPROP_WITH_MPI
    if (launched_as_a_rank()) return make_mpi_communicator();
#else
    (void)launched_as_a_rank;
#endif
    return std::make_unique<Communicator>();
  }();
  return *communicator;
}

}  // namespace bioprop
