#include "lrnn/analysis/eval_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

namespace lrnn {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Groups the values into bins: one per distinct value, or `max_bins` bins of equal counts when
/// there are more distinct values than that. Returns the bin of each value; `centers` gets the
/// mean value of each bin, ascending.
std::vector<int> assign_bins(const std::vector<double>& values, int max_bins,
                             std::vector<double>& centers) {
  const auto n = values.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<int> bin(n, 0);
  centers.clear();
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i == 0 || values[order[i]] != values[order[i - 1]]) ++distinct;
  }
  if (distinct <= static_cast<std::size_t>(max_bins)) {
    for (std::size_t i = 0; i < n; ++i) {
      if (i == 0 || values[order[i]] != values[order[i - 1]]) centers.push_back(values[order[i]]);
      bin[order[i]] = static_cast<int>(centers.size()) - 1;
    }
    return bin;
  }
  // Quantile bins; equal values never straddle a bin edge.
  std::vector<double> sum;
  std::vector<std::int64_t> count;
  const double per_bin = static_cast<double>(n) / max_bins;
  int b = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool new_value = i > 0 && values[order[i]] != values[order[i - 1]];
    if (new_value && static_cast<double>(i) >= per_bin * (b + 1) && b + 1 < max_bins) ++b;
    if (static_cast<int>(sum.size()) <= b) {
      sum.push_back(0.0);
      count.push_back(0);
    }
    bin[order[i]] = b;
    sum[static_cast<std::size_t>(b)] += values[order[i]];
    ++count[static_cast<std::size_t>(b)];
  }
  for (std::size_t k = 0; k < sum.size(); ++k) {
    centers.push_back(sum[k] / static_cast<double>(count[k]));
  }
  return bin;
}

double sigmoid(double z) {
  return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}

}  // namespace

bool reports_plus(LabelType type, double y_bar) {
  return type == LabelType::kPm1 ? y_bar > 0.0 : sigmoid(y_bar) > 0.5;
}

std::pair<double, double> fit_logistic(const std::vector<double>& c, const std::vector<int>& plus,
                                       double ridge) {
  // Penalised log-likelihood ℓ(β) = Σ_j [y_j z_j - log(1 + e^{z_j})] - λ (β0² + β1²) / 2,
  // z_j = β0 + β1 c_j. The small ridge on β0 keeps an all-one-choice data set finite too.
  const auto loglik = [&](double b0, double b1) {
    double l = -0.5 * ridge * (b0 * b0 + b1 * b1);
    for (std::size_t j = 0; j < c.size(); ++j) {
      const double z = b0 + b1 * c[j];
      // log(1 + e^z) without overflow
      const double softplus = z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
      l += (plus[j] != 0 ? z : 0.0) - softplus;
    }
    return l;
  };
  double b0 = 0.0, b1 = 0.0;
  double l = loglik(b0, b1);
  for (int it = 0; it < 200; ++it) {
    double g0 = -ridge * b0, g1 = -ridge * b1;
    double h00 = ridge, h01 = 0.0, h11 = ridge;  // -Hessian
    for (std::size_t j = 0; j < c.size(); ++j) {
      const double p = sigmoid(b0 + b1 * c[j]);
      const double r = (plus[j] != 0 ? 1.0 : 0.0) - p;
      const double w = p * (1.0 - p);
      g0 += r;
      g1 += r * c[j];
      h00 += w;
      h01 += w * c[j];
      h11 += w * c[j] * c[j];
    }
    const double det = h00 * h11 - h01 * h01;
    if (!(det > 0.0)) break;
    double d0 = (h11 * g0 - h01 * g1) / det;
    double d1 = (h00 * g1 - h01 * g0) / det;
    // Newton step with halving: ℓ is concave, so a short enough step always climbs.
    double step = 1.0;
    double l_new = loglik(b0 + d0, b1 + d1);
    while (l_new < l && step > 1e-8) {
      step *= 0.5;
      l_new = loglik(b0 + step * d0, b1 + step * d1);
    }
    b0 += step * d0;
    b1 += step * d1;
    const bool converged = std::abs(step * d0) + std::abs(step * d1) < 1e-10 * (1 + std::abs(b1));
    l = l_new;
    if (converged) break;
  }
  return {b0, b1};
}

EvalMetrics compute_eval_metrics(LabelType type, const TrialTraces& traces,
                                 const EvalMetricsOptions& options) {
  EvalMetrics m;
  m.label_type = type;
  const Index n = traces.y_bar.size();
  MetricsAccumulator acc(type);
  acc.add(traces.y_bar, traces.target, traces.context);
  m.task = acc.result();

  std::vector<int> plus(static_cast<std::size_t>(n));
  std::vector<int> correct(static_cast<std::size_t>(n));
  for (Index j = 0; j < n; ++j) {
    plus[static_cast<std::size_t>(j)] = reports_plus(type, traces.y_bar[j]) ? 1 : 0;
    correct[static_cast<std::size_t>(j)] = trial_correct(type, traces.y_bar[j], traces.target[j]);
  }
  const bool have_coherence =
      traces.coherence.size() > 0 && traces.coherence.cwiseAbs().maxCoeff() > 0;
  bool have_context = false;
  for (int k : traces.context) have_context = have_context || k == 1 || k == 2;

  for (int s = 1; s <= 2 && have_coherence; ++s) {
    std::vector<double> c(static_cast<std::size_t>(n));
    for (Index j = 0; j < n; ++j) c[static_cast<std::size_t>(j)] = traces.coherence(j, s - 1);
    std::vector<double> centers;
    const std::vector<int> bin = assign_bins(c, options.max_coherence_bins, centers);
    for (int ctx = 0; ctx <= 2; ++ctx) {
      if (ctx > 0 && !have_context) break;
      std::vector<CoherenceBin> bins(centers.size());
      for (std::size_t b = 0; b < centers.size(); ++b) {
        bins[b].stimulus = s;
        bins[b].context = ctx;
        bins[b].coherence = centers[b];
      }
      std::vector<double> fit_c;
      std::vector<int> fit_plus;
      for (Index j = 0; j < n; ++j) {
        const auto jj = static_cast<std::size_t>(j);
        if (ctx > 0 && traces.context[jj] != ctx) continue;
        CoherenceBin& b = bins[static_cast<std::size_t>(bin[jj])];
        ++b.n;
        b.accuracy += correct[jj];
        b.p_plus += plus[jj];
        fit_c.push_back(c[jj]);
        fit_plus.push_back(plus[jj]);
      }
      PsychometricCurve curve;
      curve.context = ctx;
      curve.stimulus = s;
      curve.relevant = ctx == s;
      for (auto& b : bins) {
        if (b.n == 0) continue;
        b.accuracy /= static_cast<double>(b.n);
        b.p_plus /= static_cast<double>(b.n);
        m.by_coherence.push_back(b);
        curve.points.push_back({b.coherence, b.n, b.p_plus});
      }
      if (ctx > 0 && !fit_c.empty()) {
        std::tie(curve.bias, curve.slope) = fit_logistic(fit_c, fit_plus, options.logistic_ridge);
        m.psychometric.push_back(curve);
      }
    }
  }

  for (int ctx = 1; ctx <= 2; ++ctx) {
    const int irrelevant = 2 - ctx;  // column of the other stimulus
    std::int64_t agree = 0, count = 0;
    for (Index j = 0; j < n && have_coherence; ++j) {
      const double ci = traces.coherence(j, irrelevant);
      if (traces.context[static_cast<std::size_t>(j)] != ctx || ci == 0.0) continue;
      ++count;
      agree += (plus[static_cast<std::size_t>(j)] != 0) == (ci > 0);
    }
    m.irrelevant_agreement[ctx - 1] =
        count > 0 ? static_cast<double>(agree) / static_cast<double>(count) : kNaN;
  }
  return m;
}

}  // namespace lrnn
