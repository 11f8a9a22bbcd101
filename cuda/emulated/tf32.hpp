#pragma once
// TF32 rounding (round to nearest, ties away from zero, to 10 mantissa bits: PTX cvt.rna.tf32.f32):
// what tensor-core FP32 math does to its operands, so a backend that lets it in where FP32 is meant
// fails its parity tests on the emulated device too.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace bioprop::emulated {

inline float to_tf32(float value) {
  if (!std::isfinite(value)) return value;
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  bits = (bits + 0x1000u) & 0xFFFFE000u;
  std::memcpy(&value, &bits, sizeof bits);
  return value;
}

inline float tf32_if(bool tensor_cores, float value) { return tensor_cores ? to_tf32(value) : value; }

}  // namespace bioprop::emulated
