#pragma once
// The shape checks of Backend::project_feedback, shared by the backends (host code only: it formats
// its errors with fmt, which nvcc does not compile).
#include <vector>

#include "bioprop/backend.hpp"
#include "bioprop/error.hpp"

namespace bioprop {

// e (N,K) and B (K,W); the slices in column order, each (N, F) with pre/post of its shape when it
// takes a derivative, covering B's W columns exactly.
inline void check_projection_slices(const Tensor& e, const Tensor& projection,
                                    const std::vector<ProjectionSlice>& slices) {
  const int batch = e.dim(0), width = static_cast<int>(projection.shape().sample_size());
  if (static_cast<size_t>(projection.dim(0)) != e.shape().sample_size())
    fail("project_feedback: error {} does not fit the projection {}", e.shape().str(), projection.shape().str());
  int next = 0;
  for (const ProjectionSlice& s : slices) {
    if (s.first_column != next || s.out->dim(0) != batch)
      fail("project_feedback: slice at column {} ({}) does not follow column {} for a batch of {}", s.first_column,
           s.out->shape().str(), next, batch);
    if (s.derivative && (s.pre->shape() != s.out->shape() || s.post->shape() != s.out->shape()))
      fail("project_feedback: activation {} / {} does not match the slice {}", s.pre->shape().str(),
           s.post->shape().str(), s.out->shape().str());
    next += static_cast<int>(s.out->shape().sample_size());
  }
  if (next != width) fail("project_feedback: the slices cover {} of the projection's {} columns", next, width);
}

}  // namespace bioprop
