// MPI's world as bioprop's job (Open MPI from Debian): sums of updates with MPI_Allreduce on host memory.
#ifdef BIOPROP_WITH_MPI
#include <mpi.h>

#include <fmt/format.h>

#include "bioprop/distributed.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

#define BIOPROP_MPI_CHECK(call)                                                              \
  do {                                                                                       \
    const int mpi_status = (call);                                                           \
    if (mpi_status != MPI_SUCCESS) ::bioprop::fail("MPI error {} in {}", mpi_status, #call); \
  } while (0)

namespace {

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialised = 0;
    BIOPROP_MPI_CHECK(MPI_Initialized(&initialised));
    if (!initialised) BIOPROP_MPI_CHECK(MPI_Init(nullptr, nullptr));
    // Errors come back as codes (and become bioprop::Error) instead of aborting inside MPI.
    BIOPROP_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    BIOPROP_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    BIOPROP_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  }
  ~MpiCommunicator() override {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(float* values, size_t count) override { reduce(values, count, MPI_FLOAT); }
  void all_reduce_sum(double* values, size_t count) override { reduce(values, count, MPI_DOUBLE); }
  bool all_equal(uint64_t value) override {
    uint64_t low = value, high = value;
    BIOPROP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &low, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD));
    BIOPROP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &high, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD));
    return low == high;
  }
  std::string describe() const override { return fmt::format("rank {} of {} (MPI)", rank_, size_); }

 private:
  template <typename T>
  void reduce(T* values, size_t count, MPI_Datatype type) {
    // MPI counts are ints: large tensors go in pieces.
    constexpr size_t piece = size_t{1} << 30;
    for (size_t done = 0; done < count; done += piece)
      BIOPROP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values + done, static_cast<int>(std::min(piece, count - done)),
                                      type, MPI_SUM, MPI_COMM_WORLD));
  }
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace bioprop
#endif
