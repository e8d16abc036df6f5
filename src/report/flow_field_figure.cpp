#include "lrnn/report/flow_field_figure.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "lrnn/analysis/flow_field.hpp"
#include "lrnn/report/svg_plot.hpp"

namespace lrnn {
namespace {

constexpr int kShadeCells = 24;  // shading grid per axis (a 5-panel figure stays ~300 kB)
constexpr int kArrowCells = 14;  // arrow grid per axis
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kShadeColor = "#0072B2";

std::vector<double> linspace(double lo, double hi, int n) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = lo + (hi - lo) * (i + 0.5) / n;
  return v;
}

struct Kind {
  const char* label;
  Marker marker;
  const char* color;
};

Kind kind_style(PointKind k) {
  switch (k) {
    case PointKind::kStable:
      return {"stable point", Marker::kCircle, "#000000"};
    case PointKind::kMarginal:
      return {"marginal point", Marker::kDiamond, "#009E73"};
    case PointKind::kSaddle:
      return {"saddle", Marker::kTriangle, "#D55E00"};
    case PointKind::kUnstable:
      return {"unstable point", Marker::kSquare, "#CC79A7"};
    case PointKind::kSlow:
      return {"slow point", Marker::kDiamond, "#999999"};
  }
  return {"?", Marker::kCircle, "#000000"};
}

std::string group_of(const std::string& name) { return name.substr(0, name.find(' ')); }

void shade_and_arrows(Axes& ax, const Network<double>& net, const MatX<double>& U,
                      const VecX<double>& u, const double lim[4]) {
  const std::vector<double> k1 = linspace(lim[0], lim[1], kShadeCells);
  const std::vector<double> k2 = linspace(lim[2], lim[3], kShadeCells);
  const FlowField f = latent_flow_field(net, U, u, k1, k2);
  const double top = std::max(f.speed.maxCoeff(), 1e-12);
  std::vector<double> xs, ys, shades;
  for (int j = 0; j < kShadeCells; ++j) {
    for (int i = 0; i < kShadeCells; ++i) {
      xs.push_back(k1[static_cast<std::size_t>(i)]);
      ys.push_back(k2[static_cast<std::size_t>(j)]);
      // Square root: the slow regions, where the points are, keep some contrast.
      shades.push_back(0.85 * std::sqrt(f.speed(j, i) / top));
    }
  }
  Style shade;
  shade.color = kShadeColor;
  shade.in_legend = false;
  ax.cells(xs, ys, shades, (lim[1] - lim[0]) / kShadeCells, (lim[3] - lim[2]) / kShadeCells, shade);
  // Arrows of a fixed length: the direction of the flow; the shading gives its speed.
  const std::vector<double> a1 = linspace(lim[0], lim[1], kArrowCells);
  const std::vector<double> a2 = linspace(lim[2], lim[3], kArrowCells);
  const FlowField g = latent_flow_field(net, U, u, a1, a2);
  const double len1 = 0.7 * (lim[1] - lim[0]) / kArrowCells;
  const double len2 = 0.7 * (lim[3] - lim[2]) / kArrowCells;
  std::vector<double> ax0, ay0, au, av;
  for (int j = 0; j < kArrowCells; ++j) {
    for (int i = 0; i < kArrowCells; ++i) {
      // The direction in screen proportions: scale each component by its axis' cell size.
      const double d1 = g.dk1(j, i) / len1, d2 = g.dk2(j, i) / len2;
      const double n = std::hypot(d1, d2);
      if (n < 1e-14) continue;
      const double x = a1[static_cast<std::size_t>(i)], y = a2[static_cast<std::size_t>(j)];
      au.push_back(d1 / n * len1);
      av.push_back(d2 / n * len2);
      ax0.push_back(x - 0.5 * au.back());
      ay0.push_back(y - 0.5 * av.back());
    }
  }
  Style arrow;
  arrow.color = "#ffffff";
  arrow.width = 1.0;
  arrow.marker_size = 3.5;
  arrow.opacity = 0.9;
  arrow.in_legend = false;
  ax.arrows(ax0, ay0, au, av, arrow);
}

// Each condition's trial in the plane, the conditions grouped by figure, and the plane's limits
// {x0, x1, y0, y1} around the trials and the roots.
struct Plane {
  std::map<std::string, std::vector<std::size_t>> groups;
  std::vector<MatX<double>> traj;
  double lim[4] = {
      std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
      std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
};

Plane lay_out_plane(const Network<double>& net, const MatX<double>& U,
                    const FixedPointReport& report, double dt) {
  const Index every = std::max<Index>(1, static_cast<Index>(std::llround(0.5 / dt)));
  Plane plane;
  double* lim = plane.lim;
  const auto widen = [lim](double a, double b) {
    lim[0] = std::min(lim[0], a);
    lim[1] = std::max(lim[1], a);
    lim[2] = std::min(lim[2], b);
    lim[3] = std::max(lim[3], b);
  };
  for (std::size_t c = 0; c < report.conditions.size(); ++c) {
    const ConditionPoints& cp = report.conditions[c];
    plane.groups[group_of(cp.input.name)].push_back(c);
    plane.traj.push_back(plane_coordinates(U, trial_states(net, cp.input, dt, every)));
    const MatX<double>& T = plane.traj.back();
    for (Index t = 0; t < T.cols(); ++t) widen(T(0, t), T(1, t));
    for (const FixedPoint& p : cp.points) {
      if (p.root) widen(p.coords[0], p.coords[1]);
    }
  }
  // A margin of a quarter of the extent, and never a degenerate box.
  for (int a = 0; a < 4; a += 2) {
    const double span = std::max(lim[a + 1] - lim[a], 0.2);
    const double mid = 0.5 * (lim[a] + lim[a + 1]);
    lim[a] = mid - 0.75 * span;
    lim[a + 1] = mid + 0.75 * span;
  }
  return plane;
}

// The trajectories of panel `col`: the condition's own, or all of the group's on a panel without a
// target.
void draw_trajectories(Axes& ax, const FixedPointReport& report, const Plane& plane,
                       const std::vector<std::size_t>& members, int col) {
  const ConditionPoints& cp = report.conditions[members[static_cast<std::size_t>(col)]];
  int colour = 0;
  for (const std::size_t c : members) {
    const bool own = c == members[static_cast<std::size_t>(col)];
    const bool show = own || cp.input.target == 0;
    const int this_colour = colour++;
    if (!show || (cp.input.target == 0 && report.conditions[c].input.target == 0 && !own)) {
      continue;
    }
    const MatX<double>& T = plane.traj[c];
    std::vector<double> x(static_cast<std::size_t>(T.cols())), y(x.size());
    for (Index t = 0; t < T.cols(); ++t) {
      x[static_cast<std::size_t>(t)] = T(0, t);
      y[static_cast<std::size_t>(t)] = T(1, t);
    }
    Style line;
    line.color = std::string(palette_color(this_colour + 1));
    line.width = 2.0;
    line.start_marker = Marker::kCircle;
    line.end_marker = Marker::kCircle;
    line.label = report.conditions[c].input.name + " trial";
    line.in_legend = false;
    ax.line(x, y, line);
  }
}

void draw_fixed_points(Axes& ax, const ConditionPoints& cp) {
  for (const FixedPoint& p : cp.points) {
    const Kind k = kind_style(p.kind);
    Style s;
    s.color = k.color;
    s.marker = k.marker;
    s.marker_size = 5.5;
    s.label = k.label;
    s.in_legend = false;
    const double x = p.coords[0], y = p.coords[1];
    ax.markers_with_errorbars(std::span(&x, 1), std::span(&y, 1), std::span(&kNaN, 1),
                              std::span(&kNaN, 1), s);
  }
}

// One legend for the figure, on its first panel: point kinds and trials.
void add_legend(SvgFigure& fig) {
  Axes& first = fig.axes(0, 0);
  for (const PointKind kind : {PointKind::kStable, PointKind::kSaddle, PointKind::kUnstable,
                               PointKind::kMarginal, PointKind::kSlow}) {
    const Kind k = kind_style(kind);
    Style s;
    s.color = k.color;
    s.marker = k.marker;
    s.width = 0.0;
    s.label = k.label;
    first.legend_entry(s);
  }
  Style trial;
  trial.color = std::string(palette_color(1));
  trial.start_marker = Marker::kCircle;
  trial.end_marker = Marker::kCircle;
  trial.label = "trial from x = 0 (hollow: start, filled: end)";
  first.legend_entry(trial);
  fig.legend(0, 0);
}

}  // namespace

std::vector<std::string> plot_flow_fields(const Network<double>& net,
                                          const FixedPointReport& report, double dt,
                                          const std::string& dir) {
  if (net.dims().R < 2 || report.conditions.empty()) return {};
  const MatX<double> U = flow_directions(net);
  const Plane plane = lay_out_plane(net, U, report, dt);
  const double* lim = plane.lim;
  const bool from_m = net.dims().R == 2;
  std::vector<std::string> files;
  for (const auto& [group, members] : plane.groups) {
    const int cols = static_cast<int>(members.size());
    SvgFigure fig(1, cols, 300, 300,
                  fmt::format("Latent flow field, {}: k = U⁺x along {}; speed |dk/dt| shaded, "
                              "arrows its direction; grid states leave out the bulk's component "
                              "of x",
                              group, from_m ? "m1, m2" : "the two leading left singular vectors"));
    for (int col = 0; col < cols; ++col) {
      const ConditionPoints& cp = report.conditions[members[static_cast<std::size_t>(col)]];
      Axes& ax = fig.axes(0, col);
      ax.set_title(cp.input.name);
      ax.set_xlabel(from_m ? "k1 (along m1)" : "k1");
      if (col == 0) ax.set_ylabel(from_m ? "k2 (along m2)" : "k2");
      ax.set_xlim(lim[0], lim[1]);
      ax.set_ylim(lim[2], lim[3]);
      shade_and_arrows(ax, net, U, cp.input.u, lim);
      draw_trajectories(ax, report, plane, members, col);
      draw_fixed_points(ax, cp);
    }
    add_legend(fig);
    const std::string path =
        (std::filesystem::path(dir) / ("flow_field_" + group + ".svg")).string();
    fig.save(path);
    files.push_back(path);
  }
  return files;
}

}  // namespace lrnn
