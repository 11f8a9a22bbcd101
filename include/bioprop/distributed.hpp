#pragma once
// Data-parallel training over processes (issue 17): `mpirun -np K bioprop train ...` trains one model on K
// ranks. Each rank takes its share of every global batch (the same global order as one process), the
// ranks sum their updates, and every rank takes the same optimiser step. A Communicator is this process's
// place in the job; without a launcher it is a job of one and every call is a no-op.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace bioprop {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }
  // Sums `values` element-wise over every rank, in place, on every rank (host memory).
  virtual void all_reduce_sum(float* /*values*/, size_t /*count*/) {}
  virtual void all_reduce_sum(double* /*values*/, size_t /*count*/) {}
  // Starts the same sum without waiting for it (one layer's update while credit assignment goes on below):
  // `values` stay untouched until finish_sums(), which waits for every sum started. Every rank starts the
  // same sums in the same order. By default the sum is done at once.
  virtual void start_all_reduce_sum(float* values, size_t count) { all_reduce_sum(values, count); }
  virtual void finish_sums() {}
  // Copies `bytes` bytes from rank `root` to every other rank (NCCL's bootstrap: the unique id).
  virtual void broadcast(void* /*data*/, size_t /*bytes*/, int /*root*/) {}
  // Whether every rank passed the same value (for launch checks: the same settings on every rank).
  virtual bool all_equal(uint64_t /*value*/) { return true; }
  virtual std::string describe() const { return "one process"; }
  // A collective that waits longer than this for the other ranks (one died or hangs) ends the whole job with a
  // message naming the wait, instead of hanging forever. <= 0: wait forever.
  virtual void set_timeout(double /*seconds*/) {}
};

// The default of `--rank-timeout`: long enough for rank 0 to write a large checkpoint while the others wait.
constexpr double default_rank_timeout_seconds = 600.0;

// The job this process belongs to: MPI's world when a launcher started it (mpirun, srun: the environment
// names a rank) and bioprop was built with MPI, else a job of one. Initialises MPI on the first call and
// finalises it at exit.
Communicator& job();

// This process's place among the ranks on its node, from the launcher's environment (Open MPI, Slurm, MPICH):
// with GPUs, local rank i trains on device i.
struct NodePlace {
  int local_rank = 0, local_size = 1;
};
NodePlace node_place();

// Rows [first, first + count) of every rank's share of n items: as even as possible, in rank order.
struct Share {
  int first = 0, count = 0;
};
inline Share share_of(int n, int rank, int ranks) {
  const int first = static_cast<int>(static_cast<long long>(n) * rank / ranks);
  const int last = static_cast<int>(static_cast<long long>(n) * (rank + 1) / ranks);
  return {first, last - first};
}

}  // namespace bioprop
