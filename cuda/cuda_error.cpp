#include "bioprop/error.hpp"

namespace bioprop {

void throw_cuda_error(const char* call, const char* file, int line, const char* message) {
  fail("CUDA error in {} ({}:{}): {}", call, file, line, message);
}

}  // namespace bioprop
