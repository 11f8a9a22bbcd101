// The fuzzing build links the host engine without its CUDA part: these are the only functions the
// engine calls there, and in this build each says so instead (no fuzzer reaches a GPU path).
#include "bioprop/device.hpp"
#include "bioprop/device_memory.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

namespace {
[[noreturn]] void no_cuda(const char* what) { fail("{}: this build (the fuzzers) has no CUDA", what); }
}  // namespace

std::shared_ptr<float> cuda_allocate_floats(size_t) { no_cuda("cuda_allocate_floats"); }
std::shared_ptr<float> cuda_allocate_pinned_floats(size_t) { no_cuda("cuda_allocate_pinned_floats"); }
void cuda_copy_device_to_device(float*, const float*, size_t) { no_cuda("cuda_copy_device_to_device"); }
std::string cuda_device_name(int) { no_cuda("cuda_device_name"); }
CudaDevices cuda_devices() { return {0, "this build (the fuzzers) has no CUDA"}; }
std::unique_ptr<Backend> make_cuda_backend(int, bool) { no_cuda("make_cuda_backend"); }

}  // namespace bioprop
