#pragma once
// The neuron of "Towards deep learning with segregated dendrites" (Guerguiev, Lillicrap, Richards 2017,
// eLife 6:e22901), one millisecond at a time, as the CPU reference and the CUDA kernel both compute it.
//
// Hidden neurons have three compartments: basal B (feedforward input), apical A (feedback) and soma C
// (Methods):   dC/dt = -g_L C + g_B (B - C) + g_A (A - C)
// with g_A = 0 by default (the apical compartment is electrotonically segregated). Output neurons have a
// dendrite D and a soma U:   dU/dt = -g_L U + g_D (D - U) + I,  where in the target phase
// I = g_E (E_E - U) + g_I (E_I - U) nudges the soma toward the label (g_E = 1, g_I = 0 for the label's
// unit; g_E = 0, g_I = 1 for the others) and I = 0 in the forward phase. A neuron fires Poisson spikes at
// phi(C) = phi_max sigma(C). A spike train s reaches the next compartment as the postsynaptic
// potential PSP = kappa * s with kappa(t) = (e^{-t/tau_L} - e^{-t/tau_s}) / (tau_L - tau_s),
// which two exponentially decaying traces compute exactly: PSP_t = sum_{i>=0} kappa(i+1) s_{t-i}.
#include <math.h>

#include "bioprop/host_device.hpp"

namespace bioprop {

// The paper's constants (REFERENCES.md: the authors' code), times in ms.
struct DendriteConstants {
  float dt = 1.0f;
  float g_L = 0.1f;               // leak, 1 / tau_L
  float g_B = 0.6f;               // basal -> soma
  float g_A = 0.0f;               // apical -> soma (0.05 in the paper's variant with apical conductance)
  float g_D = 0.6f;               // output dendrite -> soma
  float E_E = 8.0f, E_I = -8.0f;  // reversal potentials of the teaching conductances
  float phi_max = 0.2f;           // spikes per ms
  float teaching = 1.0f;          // scale of the target phase's conductances (0: the target phase is a forward phase)
  float tau_s = 3.0f, tau_L = 10.0f;

  // Steady-state attenuations: C -> k_B B, U -> k_D D when the inputs hold still (g_A = 0).
  BIOPROP_HD float k_B() const { return g_B / (g_L + g_B + g_A); }
  BIOPROP_HD float k_D() const { return g_D / (g_L + g_D); }
  BIOPROP_HD float decay_fast() const { return expf(-dt / tau_s); }
  BIOPROP_HD float decay_slow() const { return expf(-dt / tau_L); }
};

// phi(C) = phi_max sigma(C): the firing rate in spikes per ms.
BIOPROP_HD inline float firing_rate(float c, float phi_max) { return phi_max / (1.0f + expf(-c)); }

// One Euler step of a hidden neuron's soma.
BIOPROP_HD inline float hidden_soma_step(float c, float basal, float apical, const DendriteConstants& k) {
  const float dc = fmaf(k.g_A, apical - c, fmaf(k.g_B, basal - c, -k.g_L * c));
  return fmaf(k.dt, dc, c);
}

// One Euler step of an output neuron's soma; `teaching` < 0: forward phase (no current), else g_E of the
// unit (1 for the label's unit, 0 for the others) and g_I = 1 - g_E.
BIOPROP_HD inline float output_soma_step(float u, float dendrite, float teaching, const DendriteConstants& k) {
  float du = fmaf(k.g_D, dendrite - u, -k.g_L * u);
  if (teaching >= 0.0f) du += k.teaching * fmaf(teaching, k.E_E - u, (1.0f - teaching) * (k.E_I - u));
  return fmaf(k.dt, du, u);
}

// A Poisson count of mean `mean` from one uniform draw u in (0, 1), by inversion. Means here are at most
// phi_max dt (0.2), where the loop almost always stops after one or two terms; 16 bounds it.
BIOPROP_HD inline float poisson_count(float mean, float u) {
  float probability = expf(-mean), cumulative = probability;
  int count = 0;
  while (u > cumulative && count < 16) {
    ++count;
    probability *= mean / static_cast<float>(count);
    cumulative += probability;
  }
  return static_cast<float>(count);
}

// The PSP of a spike count arriving now: traces sum e^{-(i+1) dt / tau} s_{t-i}, their difference over
// (tau_L - tau_s) is sum kappa((i+1) dt) s_{t-i}. Returns the new PSP.
BIOPROP_HD inline float filter_spikes(float spikes, float& fast, float& slow, float decay_fast, float decay_slow,
                                      const DendriteConstants& k) {
  fast = decay_fast * (fast + spikes);
  slow = decay_slow * (slow + spikes);
  return (slow - fast) / (k.tau_L - k.tau_s);
}

enum class DendriteLayer : int { input, hidden, output };

// The arrays of one layer's step (backend.hpp's DendriteStep as raw pointers; null where unused), all
// (N, units) except labels (N).
struct DendriteArrays {
  DendriteLayer layer = DendriteLayer::hidden;
  const float* drive = nullptr;       // input: firing rates; hidden: basal B; output: dendrite D
  const float* drive_bias = nullptr;  // (units), added to the drive: the layer's bias b
  const float* apical = nullptr;
  const float* apical_bias = nullptr;  // (units), added to the apical potential: c
  const float* labels = nullptr;       // output, target phase
  float* soma = nullptr;
  float *fast = nullptr, *slow = nullptr, *psp = nullptr;
  float *soma_sum = nullptr, *apical_sum = nullptr, *rate_sum = nullptr, *psp_sum = nullptr;
  int units = 0;
  bool spiking = true;
  DendriteConstants k;
  float decay_fast = 0.0f, decay_slow = 0.0f;  // k.decay_fast(), k.decay_slow(), computed once per launch
};

// Element i (example i / units, unit i % units) for one millisecond, with its uniform draw u: the soma, its
// rate, its spikes, their PSP, and the window sums.
BIOPROP_HD inline void dendrite_element(const DendriteArrays& a, size_t i, float u) {
  const size_t unit = i % static_cast<size_t>(a.units);
  const float drive = a.drive_bias ? a.drive[i] + a.drive_bias[unit] : a.drive[i];
  float c = 0.0f, rate = 0.0f, apical = 0.0f;
  if (a.layer == DendriteLayer::input) {
    rate = drive;
  } else {
    if (a.layer == DendriteLayer::hidden) {
      if (a.apical) apical = a.apical_bias ? a.apical[i] + a.apical_bias[unit] : a.apical[i];
      c = hidden_soma_step(a.soma[i], drive, apical, a.k);
    } else {
      const float teaching =
          a.labels ? (static_cast<size_t>(a.labels[i / static_cast<size_t>(a.units)]) == unit ? 1.0f : 0.0f) : -1.0f;
      c = output_soma_step(a.soma[i], drive, teaching, a.k);
    }
    a.soma[i] = c;
    rate = firing_rate(c, a.k.phi_max);
  }
  // The paper's non-spiking mode passes the rate itself on.
  const float psp =
      a.spiking ? filter_spikes(poisson_count(rate * a.k.dt, u), a.fast[i], a.slow[i], a.decay_fast, a.decay_slow, a.k)
                : rate;
  a.psp[i] = psp;
  if (a.soma_sum) a.soma_sum[i] += c;
  if (a.apical_sum) a.apical_sum[i] += apical;
  if (a.rate_sum) a.rate_sum[i] += rate;
  if (a.psp_sum) a.psp_sum[i] += psp;
}

}  // namespace bioprop
