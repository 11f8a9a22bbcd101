#pragma once
// BIOPROP_SYNC_CHECK=1: synchronise and check after every launch and library call (sync_check.cpp).
// check_launch itself is declared in bioprop/cuda_launch.hpp, where the launches are.
namespace bioprop {

bool sync_check_enabled();
void check_after_library_call(const char* call, const char* file, int line);

}  // namespace bioprop
