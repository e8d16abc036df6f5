#include "lrnn/report/figures.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <stdexcept>

#include "io/json.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/report/svg_plot.hpp"

namespace lrnn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Two panels side by side make an 800 px wide figure; a single panel is wider.
constexpr double kPanelWidth = 400.0;
constexpr double kSinglePanelWidth = 560.0;
constexpr double kPanelHeight = 300.0;
constexpr std::string_view kMinus = "\u2212";  // a typographic minus reads better than '-'

std::string sign_text(int s) { return s > 0 ? "+" : s < 0 ? std::string(kMinus) : "?"; }

int sign_of(double v) { return v > 0.0 ? 1 : v < 0.0 ? -1 : 0; }

// pm1 targets are ±1, binary ones 0/1: the sign of the target is its side of the midpoint.
bool targets_binary(const TrialTraces& tr) {
  bool any_zero = false;
  for (Index i = 0; i < tr.target.size(); ++i) {
    if (tr.target[i] < 0.0) return false;
    if (tr.target[i] == 0.0) any_zero = true;
  }
  return any_zero;
}

bool targets_pm1(const TrialTraces& tr) {
  if (tr.target.size() == 0) return false;
  for (Index i = 0; i < tr.target.size(); ++i) {
    if (tr.target[i] != 1.0 && tr.target[i] != -1.0) return false;
  }
  return true;
}

int target_sign(const TrialTraces& tr, Index i, bool binary) {
  if (i >= tr.target.size()) return 0;
  const double t = tr.target[i];
  return binary ? (t > 0.5 ? 1 : -1) : sign_of(t);
}

// The sign of stimulus `stim` (1 or 2) in trial i; 0 when the coherence is unknown, except for
// the relevant stimulus, whose sign the target gives.
int stimulus_sign(const TrialTraces& tr, Index i, int stim, int context, bool binary) {
  const Index col = stim - 1;
  if (i < tr.coherence.rows() && col < tr.coherence.cols()) {
    const int s = sign_of(tr.coherence(i, col));
    if (s != 0) return s;
  }
  return stim == context ? target_sign(tr, i, binary) : 0;
}

int context_of(const TrialTraces& tr, Index i) {
  return i < static_cast<Index>(tr.context.size()) ? tr.context[static_cast<std::size_t>(i)] : 0;
}

// The contexts that get a panel: 1 and/or 2 when present, else {0} ("all trials").
std::vector<int> panel_contexts(const TrialTraces& tr) {
  std::set<int> present;
  for (Index i = 0; i < tr.n_trials(); ++i) {
    const int c = context_of(tr, i);
    if (c == 1 || c == 2) present.insert(c);
  }
  if (present.empty()) return {0};
  return {present.begin(), present.end()};
}

// Trials with a context of 0 when others have one: not shown, and the title says so.
Index trials_without_context(const TrialTraces& tr, const std::vector<int>& contexts) {
  if (contexts.size() == 1 && contexts[0] == 0) return 0;
  Index n = 0;
  for (Index i = 0; i < tr.n_trials(); ++i) {
    const int c = context_of(tr, i);
    if (c != 1 && c != 2) ++n;
  }
  return n;
}

bool in_panel(const TrialTraces& tr, Index i, int panel_context) {
  return panel_context == 0 || context_of(tr, i) == panel_context;
}

std::string panel_title(int context) {
  if (context == 0) return "all trials";
  return "context " + std::to_string(context) + " (stimulus " + std::to_string(context) +
         " relevant)";
}

// Mean and standard deviation (n - 1 in the denominator; 0 for a single trial) of the rows `rows`
// of m, per column, over the finite entries.
void row_stats(const MatX<double>& m, const std::vector<Index>& rows, std::vector<double>& mean,
               std::vector<double>& sd) {
  const Index k = m.cols();
  mean.assign(static_cast<std::size_t>(k), kNaN);
  sd.assign(static_cast<std::size_t>(k), kNaN);
  for (Index j = 0; j < k; ++j) {
    double s = 0.0, s2 = 0.0;
    std::size_t n = 0;
    for (const Index i : rows) {
      const double v = m(i, j);
      if (!std::isfinite(v)) continue;
      s += v;
      ++n;
    }
    if (n == 0) continue;
    const double mu = s / static_cast<double>(n);
    for (const Index i : rows) {
      const double v = m(i, j);
      if (std::isfinite(v)) s2 += (v - mu) * (v - mu);
    }
    mean[static_cast<std::size_t>(j)] = mu;
    sd[static_cast<std::size_t>(j)] = n > 1 ? std::sqrt(s2 / static_cast<double>(n - 1)) : 0.0;
  }
}

std::vector<double> times_of(const TrialTraces& tr) {
  std::vector<double> t = tr.t;
  t.resize(static_cast<std::size_t>(tr.n_obs()), kNaN);
  return t;
}

void set_time_xlim(Axes& ax, const std::vector<double>& t, const TrialTraces& tr) {
  double lo = 0.0, hi = -std::numeric_limits<double>::infinity();
  for (const double v : t) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (std::isfinite(tr.window_end)) hi = std::max(hi, tr.window_end);
  if (hi > lo) ax.set_xlim(lo, hi);
}

// The panel with the most series, whose legend entries stand for the figure's.
int fullest_panel(const SvgFigure& fig) {
  int best = 0;
  for (int c = 1; c < fig.cols(); ++c) {
    if (fig.axes(0, c).n_series() > fig.axes(0, best).n_series()) best = c;
  }
  return best;
}

// An accuracy panel: title, axis labels, the y range [0, y_max] and a dotted line at chance,
// P = 0.5. Returns the line's style, for other reference lines.
Style chance_panel(Axes& ax, const std::string& title, const std::string& xlabel,
                   const std::string& ylabel, double y_max) {
  ax.set_title(title);
  ax.set_xlabel(xlabel);
  ax.set_ylabel(ylabel);
  ax.set_ylim(0.0, y_max);
  Style chance;
  chance.dash = LineStyle::kDotted;
  chance.width = 1.2;
  ax.hline(0.5, chance);
  return chance;
}

std::string not_shown_note(Index n) {
  return n > 0 ? " (" + std::to_string(n) + " trials without a context not shown)" : "";
}

}  // namespace

void plot_readout(const TrialTraces& tr, const std::string& path) {
  const std::vector<int> contexts = panel_contexts(tr);
  const int n_panels = static_cast<int>(contexts.size());
  const bool binary = targets_binary(tr);
  const std::vector<double> t = times_of(tr);
  SvgFigure fig(1, n_panels, n_panels == 1 ? kSinglePanelWidth : kPanelWidth, kPanelHeight,
                "Readout y(t): mean \u00b1 1 s.d. across trials" +
                    not_shown_note(trials_without_context(tr, contexts)));
  for (int p = 0; p < n_panels; ++p) {
    const int ctx = contexts[static_cast<std::size_t>(p)];
    Axes& ax = fig.axes(0, p);
    ax.set_title(panel_title(ctx));
    ax.set_xlabel("time (\u03c4)");
    ax.set_ylabel("readout y");
    if (tr.window_end > tr.window_start) ax.vspan(tr.window_start, tr.window_end, "loss window");
    Style ref;
    ref.dash = LineStyle::kDashed;
    ref.width = 1.0;
    if (targets_pm1(tr)) {
      ax.hline(1.0, ref);
      ax.hline(-1.0, ref);
    } else if (binary) {
      ax.hline(0.0, ref);
      ax.hline(1.0, ref);
    }
    const std::string what = ctx == 0 ? "target " : "relevant stimulus ";
    for (const int sign : {1, -1}) {
      std::vector<Index> rows;
      for (Index i = 0; i < tr.n_trials(); ++i) {
        if (!in_panel(tr, i, ctx)) continue;
        const int s =
            ctx == 0 ? target_sign(tr, i, binary) : stimulus_sign(tr, i, ctx, ctx, binary);
        if (s == sign) rows.push_back(i);
      }
      if (rows.empty()) continue;
      std::vector<double> mean, sd;
      row_stats(tr.y, rows, mean, sd);
      std::vector<double> lo(mean.size()), hi(mean.size());
      for (std::size_t j = 0; j < mean.size(); ++j) {
        lo[j] = mean[j] - sd[j];
        hi[j] = mean[j] + sd[j];
      }
      const std::string color(palette_color(sign > 0 ? 0 : 1));
      const std::string label = what + sign_text(sign);
      Style band;
      band.color = color;
      band.label = label + " \u00b11 s.d.";
      band.in_legend = false;
      ax.band(t, lo, hi, band);
      Style line;
      line.color = color;
      line.width = 2.0;
      line.label = label;
      ax.line(t, mean, line);
    }
    set_time_xlim(ax, t, tr);
  }
  // The panels share their series: one legend under them covers no data.
  fig.legend(0, fullest_panel(fig));
  fig.save(path);
}

namespace {

// One curve: P(+1) with its binomial s.e. at each coherence, and the fitted logistic dashed.
void draw_psychometric_curve(Axes& ax, const PsychometricCurve& c) {
  std::vector<double> x, y, lo, hi;
  double cmin = std::numeric_limits<double>::infinity(), cmax = -cmin;
  for (const auto& pt : c.points) {
    if (pt.n <= 0 || !std::isfinite(pt.coherence) || !std::isfinite(pt.p_plus)) continue;
    const double pp = std::clamp(pt.p_plus, 0.0, 1.0);
    const double se = std::sqrt(pp * (1.0 - pp) / static_cast<double>(pt.n));
    x.push_back(pt.coherence);
    y.push_back(pp);
    lo.push_back(std::max(0.0, pp - se));
    hi.push_back(std::min(1.0, pp + se));
    cmin = std::min(cmin, pt.coherence);
    cmax = std::max(cmax, pt.coherence);
  }
  const std::string name = "stimulus " + std::to_string(c.stimulus);
  const std::string color(palette_color(c.stimulus == 1 ? 0 : c.stimulus == 2 ? 1 : 2));
  Style pts;
  pts.color = color;
  pts.marker = c.stimulus == 2 ? Marker::kSquare : Marker::kCircle;
  pts.label = name + (c.relevant ? " (relevant)" : " (irrelevant)");
  ax.markers_with_errorbars(x, y, lo, hi, pts);

  std::vector<double> fx, fy;
  if (!x.empty()) {
    if (!(cmax > cmin)) {
      const double half = cmin == 0.0 ? 1.0 : 0.5 * std::abs(cmin);
      cmin -= half;
      cmax += half;
    }
    constexpr int kFitPoints = 121;
    for (int k = 0; k < kFitPoints; ++k) {
      const double cc = cmin + (cmax - cmin) * k / (kFitPoints - 1);
      fx.push_back(cc);
      fy.push_back(1.0 / (1.0 + std::exp(-(c.bias + c.slope * cc))));
    }
  }
  Style fit;
  fit.color = color;
  fit.dash = LineStyle::kDashed;
  fit.width = 1.6;
  fit.label = name + " logistic fit";
  fit.in_legend = false;
  ax.line(fx, fy, fit);
}

}  // namespace

void plot_psychometric(const std::vector<PsychometricCurve>& curves, const std::string& path) {
  std::set<int> ctx_set;
  for (const auto& c : curves) ctx_set.insert(c.context);
  std::vector<int> contexts(ctx_set.begin(), ctx_set.end());
  if (contexts.empty()) contexts.push_back(0);
  const int n_panels = static_cast<int>(contexts.size());
  SvgFigure fig(1, n_panels, n_panels == 1 ? kSinglePanelWidth : kPanelWidth, kPanelHeight,
                "Psychometric curves (\u00b11 s.e.; dashed: logistic fit)");
  for (int p = 0; p < n_panels; ++p) {
    const int ctx = contexts[static_cast<std::size_t>(p)];
    Axes& ax = fig.axes(0, p);
    const Style ref = chance_panel(ax, ctx == 0 ? "no data" : "context " + std::to_string(ctx),
                                   "signed coherence", "P(report +1)", 1.0);
    ax.vline(0.0, ref);
    std::vector<const PsychometricCurve*> in_ctx;
    for (const auto& c : curves) {
      if (c.context == ctx) in_ctx.push_back(&c);
    }
    std::stable_sort(in_ctx.begin(), in_ctx.end(),
                     [](const PsychometricCurve* a, const PsychometricCurve* b) {
                       return a->stimulus < b->stimulus;
                     });
    for (const PsychometricCurve* c : in_ctx) draw_psychometric_curve(ax, *c);
    if (!in_ctx.empty()) {
      Style proxy;
      proxy.dash = LineStyle::kDashed;
      proxy.width = 1.6;
      proxy.color = "#555555";
      proxy.label = "logistic fit";
      ax.legend_entry(proxy);
    }
    ax.legend();
  }
  fig.save(path);
}

namespace {

// Conditions (sign of stimulus 1, sign of stimulus 2) in a fixed order, so that a condition has
// the same colour in every panel and figure. Trials with neither sign known (no coherences, no
// context) are grouped by the sign of their target instead, as in the readout figure.
struct Condition {
  int s1, s2, target;
  int color;
};
const std::vector<Condition> kConditions = {
    {1, 1, 0, 0},  {1, -1, 0, 1}, {-1, 1, 0, 2}, {-1, -1, 0, 3}, {1, 0, 0, 4},
    {-1, 0, 0, 5}, {0, 1, 0, 4},  {0, -1, 0, 5}, {0, 0, 1, 0},   {0, 0, -1, 1}};

// The trials of panel `ctx` in condition `cond`.
std::vector<Index> condition_rows(const TrialTraces& tr, int ctx, const Condition& cond,
                                  bool binary) {
  std::vector<Index> rows;
  for (Index i = 0; i < tr.n_trials(); ++i) {
    if (!in_panel(tr, i, ctx)) continue;
    const int cx = context_of(tr, i);
    const int s1 = stimulus_sign(tr, i, 1, cx, binary);
    const int s2 = stimulus_sign(tr, i, 2, cx, binary);
    const int ts = s1 == 0 && s2 == 0 ? target_sign(tr, i, binary) : 0;
    if (s1 == cond.s1 && s2 == cond.s2 && ts == cond.target) rows.push_back(i);
  }
  return rows;
}

// Legend entries for the start (circle) and end (square) markers of phase-plane trajectories.
void add_start_end_legend(Axes& ax) {
  Style start;
  start.width = 0.0;
  start.color = "#555555";
  start.start_marker = Marker::kCircle;
  start.label = "start";
  ax.legend_entry(start);
  Style end = start;
  end.start_marker = Marker::kNone;
  end.end_marker = Marker::kSquare;
  end.label = "end";
  ax.legend_entry(end);
}

}  // namespace

void plot_latents(const TrialTraces& tr, const std::string& path) {
  const std::vector<int> contexts = panel_contexts(tr);
  const int n_panels = static_cast<int>(contexts.size());
  const bool binary = targets_binary(tr);
  const Index rank = tr.rank();
  std::string title = rank == 1 ? "Latent variable \u03ba\u2081(t), condition means"
                      : rank == 0
                          ? "Latent trajectories: the network has no latent variables"
                          : "Latent trajectories (\u03ba\u2081, \u03ba\u2082), condition means";
  if (rank > 2) title += ": the first 2 of rank " + std::to_string(rank);
  title += not_shown_note(trials_without_context(tr, contexts));
  SvgFigure fig(1, n_panels, n_panels == 1 ? kSinglePanelWidth : kPanelWidth,
                rank >= 2 ? 380.0 : kPanelHeight, title);
  const std::vector<double> t = times_of(tr);
  for (int p = 0; p < n_panels; ++p) {
    const int ctx = contexts[static_cast<std::size_t>(p)];
    Axes& ax = fig.axes(0, p);
    ax.set_title(panel_title(ctx));
    if (rank == 1) {
      ax.set_xlabel("time (\u03c4)");
      ax.set_ylabel("latent \u03ba\u2081");
      if (tr.window_end > tr.window_start) {
        ax.vspan(tr.window_start, tr.window_end, "loss window");
      }
    } else {
      ax.set_xlabel("latent \u03ba\u2081");
      ax.set_ylabel("latent \u03ba\u2082");
    }
    if (rank == 0) continue;
    for (const Condition& cond : kConditions) {
      const std::vector<Index> rows = condition_rows(tr, ctx, cond, binary);
      if (rows.empty()) continue;
      std::vector<double> k1, k2, sd;
      row_stats(tr.kappa[0], rows, k1, sd);
      Style st;
      st.color = palette_color(cond.color);
      st.width = 2.0;
      st.label = cond.target != 0 ? "target " + sign_text(cond.target)
                                  : "s1 " + sign_text(cond.s1) + ", s2 " + sign_text(cond.s2);
      if (rank == 1) {
        ax.line(t, k1, st);
      } else {
        row_stats(tr.kappa[1], rows, k2, sd);
        st.start_marker = Marker::kCircle;
        st.end_marker = Marker::kSquare;
        st.marker_size = 4.5;
        ax.line(k1, k2, st);
      }
    }
    if (rank == 1) {
      set_time_xlim(ax, t, tr);
    } else {
      add_start_end_legend(ax);
    }
  }
  if (rank > 0) fig.legend(0, fullest_panel(fig));
  fig.save(path);
}

namespace {

double number_or_nan(const detail::Json& obj, const char* key, const std::string& where) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return kNaN;
  if (!it->is_number()) {
    throw InputError(where + ": \"" + std::string(key) + "\" must be a number or null");
  }
  return it->get<double>();
}

}  // namespace

TrainingCurves read_training_curves(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open: " + std::strerror(errno));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(path + ": read failed");

  TrainingCurves out;
  std::size_t begin = 0;
  for (std::size_t line_no = 1; begin < text.size(); ++line_no) {
    std::size_t end = text.find('\n', begin);
    const bool terminated = end != std::string::npos;
    if (!terminated) end = text.size();
    std::string_view line(text.data() + begin, end - begin);
    begin = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    detail::Json obj;
    try {
      obj = detail::parse(line);
    } catch (const std::invalid_argument& e) {
      // A run killed mid-write leaves its last line without the newline: not an error.
      if (!terminated) break;
      throw InputError(where + ": " + e.what());
    }
    if (!obj.is_object()) throw InputError(where + ": not a JSON object");
    const auto step = obj.find("step");
    if (step == obj.end()) throw InputError(where + ": no \"step\"");
    if (!step->is_number()) throw InputError(where + ": \"step\" must be a number");
    const double step_number = step->get<double>();
    out.step.push_back(step_number);
    out.loss.push_back(number_or_nan(obj, "loss", where));
    bool validation = false;
    for (const auto& item : obj.items())
      validation = validation || item.key().rfind("val_", 0) == 0;
    if (validation) {
      out.val_step.push_back(step_number);
      out.val_loss.push_back(number_or_nan(obj, "val_loss", where));
      out.val_accuracy.push_back(number_or_nan(obj, "val_accuracy", where));
      out.val_accuracy_ctx1.push_back(number_or_nan(obj, "val_accuracy_ctx1", where));
      out.val_accuracy_ctx2.push_back(number_or_nan(obj, "val_accuracy_ctx2", where));
    }
  }
  return out;
}

namespace {

// Centred running mean over the finite values within ±half of each point.
std::vector<double> running_mean(const std::vector<double>& v, std::size_t half) {
  const std::size_t n = v.size();
  std::vector<double> out(n, kNaN);
  std::vector<double> sum(n + 1, 0.0);
  std::vector<std::size_t> count(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const bool ok = std::isfinite(v[i]);
    sum[i + 1] = sum[i] + (ok ? v[i] : 0.0);
    count[i + 1] = count[i] + (ok ? 1 : 0);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t a = i >= half ? i - half : 0;
    const std::size_t b = std::min(n, i + half + 1);
    const std::size_t c = count[b] - count[a];
    if (c > 0 && std::isfinite(v[i])) out[i] = (sum[b] - sum[a]) / static_cast<double>(c);
  }
  return out;
}

}  // namespace

void plot_training(const TrainingCurves& curves, const std::string& path) {
  SvgFigure fig(1, 2, kPanelWidth, kPanelHeight, "Training");
  const std::string blue(palette_color(0)), vermillion(palette_color(1));

  Axes& loss = fig.axes(0, 0);
  loss.set_title("loss");
  loss.set_xlabel("step");
  loss.set_ylabel("loss (log scale)");
  loss.set_log_y();
  const std::size_t n = std::min(curves.step.size(), curves.loss.size());
  const std::vector<double> step(curves.step.begin(), curves.step.begin() + static_cast<long>(n));
  const std::vector<double> raw(curves.loss.begin(), curves.loss.begin() + static_cast<long>(n));
  const std::size_t window = std::clamp<std::size_t>(n / 25, 1, 50);
  Style thin;
  thin.color = blue;
  thin.width = 0.8;
  thin.opacity = 0.35;
  thin.label = "training loss";
  loss.line(step, raw, thin);
  Style bold;
  bold.color = blue;
  bold.width = 2.2;
  const std::size_t width = 2 * (window / 2) + 1;
  bold.label = width == 1 ? "running mean" : "running mean, " + std::to_string(width) + " steps";
  loss.line(step, running_mean(raw, window / 2), bold);
  Style val;
  val.color = vermillion;
  val.width = 1.6;
  val.marker = Marker::kCircle;
  val.marker_size = 3.0;
  val.label = "validation loss";
  const std::size_t nv = std::min(curves.val_step.size(), curves.val_loss.size());
  loss.line(std::span(curves.val_step.data(), nv), std::span(curves.val_loss.data(), nv), val);
  loss.legend();

  Axes& acc = fig.axes(0, 1);
  chance_panel(acc, "validation accuracy", "step", "accuracy", 1.02);
  const auto plot_acc = [&](const std::vector<double>& a, std::string color, Marker marker,
                            std::string label) {
    Style st;
    st.color = std::move(color);
    st.width = 1.6;
    st.marker = marker;
    st.marker_size = 3.0;
    st.label = std::move(label);
    const std::size_t m = std::min(curves.val_step.size(), a.size());
    acc.line(std::span(curves.val_step.data(), m), std::span(a.data(), m), st);
  };
  plot_acc(curves.val_accuracy_ctx1, blue, Marker::kCircle, "context 1");
  plot_acc(curves.val_accuracy_ctx2, vermillion, Marker::kSquare, "context 2");
  plot_acc(curves.val_accuracy, "#000000", Marker::kDiamond, "overall");
  acc.legend();
  fig.save(path);
}

}  // namespace lrnn
