// Psychometric curves (DESIGN.md section 2): the probability of reporting +1 against the signed
// coherence of one stimulus, in one context, with a logistic fit P(+1) = σ(β0 + β1 c).
#pragma once

#include <cstdint>
#include <vector>

namespace lrnn {

struct PsychometricPoint {
  double coherence = 0.0;  ///< signed strength σ_i a_i of the stimulus
  std::int64_t n = 0;      ///< trials at this coherence
  double p_plus = 0.0;     ///< fraction of them that reported +1
};

struct PsychometricCurve {
  int context = 1;        ///< 1 or 2
  int stimulus = 1;       ///< 1 or 2: the stimulus whose coherence is on the x axis
  bool relevant = false;  ///< stimulus == context: the one the network should follow
  std::vector<PsychometricPoint> points;  ///< sorted by coherence
  double bias = 0.0;                      ///< β0 of the logistic fit
  double slope = 0.0;                     ///< β1 of the logistic fit (per unit of coherence)
};

}  // namespace lrnn
