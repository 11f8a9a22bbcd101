// The NCCL functions bioprop calls, on the emulated device, so that the GPU data-parallel path (CudaBackend's
// sums over ranks) runs in CI: a communicator is a copy of the job's MPI world (the processes mpirun started,
// one emulated device each; its own copy, as NCCL's communicator is apart from MPI's, so the job's host sums
// never pair with these), and an all-reduce is an MPI_Allreduce of emulated device memory (host memory), queued
// on the stream like a kernel and run when the stream is run. Every rank queues its sums in the same order, as
// NCCL requires, so the MPI calls pair up.
#include <nccl.h>

#include <cstring>
#include <string>

#include "device_state.hpp"
#ifdef BIOPROP_WITH_MPI
#include <mpi.h>
#endif

using bioprop::emulated::DeviceState;

struct ncclComm {
  int rank = 0, size = 1;
#ifdef BIOPROP_WITH_MPI
  MPI_Comm world{};
#endif
};

namespace {

DeviceState& state() { return DeviceState::get(); }

std::string& last_detail() {
  static std::string detail;
  return detail;
}

ncclResult_t failed(ncclResult_t result, const std::string& detail) {
  last_detail() = detail;
  return result;
}

constexpr char id_mark[] = "bioprop emulated NCCL";

}  // namespace

extern "C" {

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  if (!id) return failed(ncclInvalidArgument, "ncclGetUniqueId: null id");
  std::memset(id->internal, 0, sizeof id->internal);
  std::memcpy(id->internal, id_mark, sizeof id_mark);
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  if (!comm || nranks < 1 || rank < 0 || rank >= nranks)
    return failed(ncclInvalidArgument, "ncclCommInitRank: bad communicator, rank or size");
  if (std::memcmp(id.internal, id_mark, sizeof id_mark) != 0)
    return failed(ncclInvalidArgument, "ncclCommInitRank: the id was not made by ncclGetUniqueId (not broadcast?)");
#ifdef BIOPROP_WITH_MPI
  int initialised = 0, size = 0, world_rank = 0;
  MPI_Initialized(&initialised);
  if (!initialised) return failed(ncclInvalidUsage, "ncclCommInitRank: the emulated NCCL needs MPI initialised");
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  if (size != nranks || world_rank != rank)
    return failed(ncclInvalidUsage, "ncclCommInitRank: the emulated NCCL spans MPI's world: rank " +
                                        std::to_string(rank) + " of " + std::to_string(nranks) + " is MPI's " +
                                        std::to_string(world_rank) + " of " + std::to_string(size));
  MPI_Comm world{};
  if (MPI_Comm_dup(MPI_COMM_WORLD, &world) != MPI_SUCCESS)
    return failed(ncclSystemError, "ncclCommInitRank: MPI_Comm_dup failed");
  *comm = new ncclComm{rank, nranks, world};
  return ncclSuccess;
#else
  return failed(ncclSystemError, "ncclCommInitRank: this emulated device was built without MPI");
#endif
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
#ifdef BIOPROP_WITH_MPI
  int finalised = 1;
  MPI_Finalized(&finalised);
  if (comm && !finalised) MPI_Comm_free(&comm->world);
#endif
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclGroupStart() { return ncclSuccess; }
ncclResult_t ncclGroupEnd() { return ncclSuccess; }

ncclResult_t ncclAllReduce(const void* send, void* receive, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream) {
  std::lock_guard lock(state().mutex);
  if (!comm) return failed(ncclInvalidArgument, "ncclAllReduce: null communicator");
  if (type != ncclFloat32 || op != ncclSum)
    return failed(ncclInvalidArgument, "ncclAllReduce: the emulated NCCL sums float32 only");
  for (const auto& [pointer, name] : {std::pair<const void*, const char*>{send, "sendbuff"}, {receive, "recvbuff"}})
    if (const std::string problem = state().check_device_range(pointer, count * sizeof(float), "ncclAllReduce", name);
        !problem.empty())
      return failed(ncclInvalidArgument, problem);
  CUstream_st* queue = state().stream(stream);
  if (!queue) return failed(ncclInvalidArgument, "ncclAllReduce: the stream was destroyed");
#ifdef BIOPROP_WITH_MPI
  state().enqueue(queue, "ncclAllReduce", [send, receive, count, world = comm->world] {
    auto* values = static_cast<float*>(receive);
    for (size_t done = 0; done < count;) {  // MPI counts are ints
      const int piece = static_cast<int>(std::min<size_t>(count - done, size_t{1} << 30));
      MPI_Allreduce(send == receive ? MPI_IN_PLACE : static_cast<const float*>(send) + done, values + done, piece,
                    MPI_FLOAT, MPI_SUM, world);
      done += static_cast<size_t>(piece);
    }
  });
  return ncclSuccess;
#else
  return failed(ncclSystemError, "ncclAllReduce: this emulated device was built without MPI");
#endif
}

const char* ncclGetErrorString(ncclResult_t result) {
  static std::string message;
  message = "emulated NCCL error " + std::to_string(static_cast<int>(result)) +
            (last_detail().empty() ? std::string() : ": " + last_detail());
  return message.c_str();
}

}  // extern "C"
