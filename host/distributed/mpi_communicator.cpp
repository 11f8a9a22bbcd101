// MPI's world as bioprop's job (Open MPI from Debian): sums of updates with MPI_Allreduce on host memory.
// Every collective is started non-blocking and waited for with a deadline, so a rank that died or hangs makes
// the others stop with a message (and MPI_Abort ends the job) instead of a silent hang.
#ifdef BIOPROP_WITH_MPI
#include <mpi.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>
#include <vector>

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
  void start_all_reduce_sum(float* values, size_t count) override {
    constexpr size_t piece = size_t{1} << 30;  // MPI counts are ints
    for (size_t done = 0; done < count; done += piece) {
      started_.emplace_back();
      BIOPROP_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, values + done, static_cast<int>(std::min(piece, count - done)),
                                       MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &started_.back()));
    }
    // A test lets MPI move the earlier sums on (without a progress thread, MPI works only inside its calls).
    int all_done = 0;
    BIOPROP_MPI_CHECK(MPI_Testall(static_cast<int>(started_.size()), started_.data(), &all_done, MPI_STATUSES_IGNORE));
  }
  void finish_sums() override {
    for (MPI_Request& request : started_) wait(request, "a sum of updates");
    started_.clear();
  }
  bool all_equal(uint64_t value) override {
    uint64_t low = value, high = value;
    all_reduce(&low, 1, MPI_UINT64_T, MPI_MIN, "the launch check (same settings on every rank)");
    all_reduce(&high, 1, MPI_UINT64_T, MPI_MAX, "the launch check (same settings on every rank)");
    return low == high;
  }
  void broadcast(void* data, size_t bytes, int root) override {
    MPI_Request request;
    BIOPROP_MPI_CHECK(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD, &request));
    wait(request, "the start of the sums on the GPUs (NCCL's bootstrap)");
  }
  std::string describe() const override { return fmt::format("rank {} of {} (MPI)", rank_, size_); }
  void set_timeout(double seconds) override { timeout_seconds_ = seconds; }

 private:
  template <typename T>
  void reduce(T* values, size_t count, MPI_Datatype type) {
    // MPI counts are ints: large tensors go in pieces.
    constexpr size_t piece = size_t{1} << 30;
    for (size_t done = 0; done < count; done += piece)
      all_reduce(values + done, static_cast<int>(std::min(piece, count - done)), type, MPI_SUM,
                 "a sum of updates or metrics");
  }

  void all_reduce(void* values, int count, MPI_Datatype type, MPI_Op op, const char* what) {
    MPI_Request request;
    BIOPROP_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, values, count, type, op, MPI_COMM_WORLD, &request));
    wait(request, what);
  }

  // Polls the request: at first at once (collectives of a healthy job finish within microseconds of each
  // other), then every 100 us so a waiting rank leaves the cores to the others.
  void wait(MPI_Request& request, const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (long polls = 0;; ++polls) {
      int done = 0;
      BIOPROP_MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
      if (done) return;
      if (polls < 1000) continue;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (timeout_seconds_ > 0 && waited > timeout_seconds_) {
        spdlog::error(
            "rank {} of {}: the other ranks did not join {} within {:.0f} s: a rank died or hangs (see its output); "
            "ending the job (--rank-timeout sets the wait)",
            rank_, size_, what, timeout_seconds_);
        MPI_Abort(MPI_COMM_WORLD, 3);
      }
    }
  }

  int rank_ = 0, size_ = 1;
  std::vector<MPI_Request> started_;  // the sums start_all_reduce_sum began, in order
  double timeout_seconds_ = default_rank_timeout_seconds;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace bioprop
#endif
