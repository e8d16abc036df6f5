#include "lrnn/report/fixed_points_report.hpp"

#include <fmt/format.h>

#include "io/json.hpp"

namespace lrnn {
namespace {

using detail::Json;

Json target_json(int target) { return target == 0 ? Json(nullptr) : Json(target); }

Json point_json(const FixedPoint& p, const ConstantInput& in, bool trial_ends_here) {
  Json j = Json::object();
  j["kind"] = to_string(p.kind);
  j["root"] = p.root;
  j["unstable"] = p.unstable;
  j["kappa"] = detail::vector(p.kappa);
  j["coords"] = detail::vector(p.coords);
  j["y"] = detail::number(p.y);
  j["readout_correct"] = in.target == 0 ? Json(nullptr) : Json(readout_correct(in, p));
  j["F_norm"] = detail::number(p.F_norm);
  j["q"] = detail::number(p.q);
  j["eigenvalues"] = detail::list(p.eigenvalues, detail::complex_number);
  j["eigenvalue_residuals"] = detail::list(p.residuals, [](double r) { return detail::number(r); });
  j["starts"] = p.starts;
  j["trial_ends_here"] = trial_ends_here;
  j["x"] = detail::vector(p.x);
  return j;
}

Json trial_json(const ConditionPoints& c) {
  const TrialEnd& t = c.trial;
  Json j = Json::object();
  j["kappa"] = detail::vector(t.kappa);
  j["y"] = detail::number(t.y);
  j["settled_kappa"] = detail::vector(t.settled_kappa);
  j["settled_y"] = detail::number(t.settled_y);
  j["settled_F_norm"] = detail::number(t.settled_F_norm);
  j["settle_time"] = detail::number(t.settle_time);
  j["point"] = t.point < 0 ? Json(nullptr) : Json(t.point);
  j["kappa_distance"] = detail::number(t.kappa_distance);
  j["lands_on_stable_point"] = trial_lands_on_stable_point(c);
  return j;
}

Json options_json(const FixedPointOptions& o) {
  Json j = Json::object();
  j["starts"] = o.starts;
  j["dt"] = o.dt;
  j["relax_dt"] = o.relax_dt;
  j["relax_time"] = o.relax_time;
  j["descent_iters"] = o.descent_iters;
  j["descent_lr"] = o.descent_lr;
  j["jitter_std"] = o.jitter_std;
  j["merge_tol_relaxed"] = o.merge_tol_relaxed;
  j["merge_tol"] = o.merge_tol;
  j["newton_tol"] = o.newton_tol;
  j["slow_q_max"] = o.slow_q_max;
  j["marginal_tol"] = o.marginal_tol;
  j["krylov_dim"] = o.krylov_dim;
  j["settle_tol"] = o.settle_tol;
  j["seed"] = o.seed;
  j["threads"] = o.threads;
  return j;
}

std::string sign(int target) { return target == 0 ? " ." : target > 0 ? "+1" : "-1"; }

std::string vec_text(const VecX<double>& v) {
  std::string s;
  for (Index i = 0; i < v.size(); ++i) s += fmt::format("{:>9.4f}", v[i]);
  return s;
}

Json mean_field_json(const MeanFieldCondition& m) {
  Json points = Json::array();
  for (std::size_t i = 0; i < m.points.size(); ++i) {
    const MeanField::Point& p = m.points[i];
    Json j = Json::object();
    j["kappa"] = detail::vector(p.kappa);
    j["y"] = detail::number(p.y);
    j["delta0"] = detail::number(p.delta0);
    j["stable"] = p.stable;
    j["nearest_point"] = m.nearest[i] < 0 ? Json(nullptr) : Json(m.nearest[i]);
    j["kappa_distance"] = detail::number(m.distance[i]);
    points.push_back(std::move(j));
  }
  return points;
}

}  // namespace

std::string to_json(const FixedPointReport& r, const std::string& checkpoint,
                    const std::vector<MeanFieldCondition>* mean_field) {
  Json conditions = Json::array();
  for (std::size_t ci = 0; ci < r.conditions.size(); ++ci) {
    const ConditionPoints& c = r.conditions[ci];
    Json points = Json::array();
    for (std::size_t i = 0; i < c.points.size(); ++i) {
      points.push_back(point_json(c.points[i], c.input, c.trial.point == static_cast<int>(i)));
    }
    Json j = Json::object();
    j["name"] = c.input.name;
    j["u"] = detail::vector(c.input.u);
    j["u_before"] = c.input.u_before.size() > 0
                        ? detail::vector(c.input.u_before)
                        : detail::vector(VecX<double>::Zero(c.input.u.size()));
    j["t_before"] = c.input.t_before;
    j["t_after"] = c.input.t_after;
    j["target"] = target_json(c.input.target);
    j["points"] = std::move(points);
    j["trial"] = trial_json(c);
    j["candidates"] = c.candidates;
    j["newton_iterations"] = c.newton_iterations;
    if (mean_field) j["mean_field"] = mean_field_json((*mean_field)[ci]);
    conditions.push_back(std::move(j));
  }
  Json j = Json::object();
  j["checkpoint"] = checkpoint;
  j["N"] = r.dims.N;
  j["R"] = r.dims.R;
  j["g"] = r.g;
  j["tau"] = r.tau;
  j["options"] = options_json(r.options);
  j["conditions"] = std::move(conditions);
  j["wall_time_s"] = detail::number(r.wall_time_s);
  return detail::dump(j, 1);
}

std::string to_text(const FixedPointReport& r, const std::vector<MeanFieldCondition>* mean_field) {
  std::string out;
  auto line = [&out](const std::string& text) { out += text + "\n"; };
  line(fmt::format(
      "fixed points  (N = {}, R = {}; {} starts per condition; roots to |F|_inf <= {:g}; "
      "marginal: |Re lambda| <= {:g})",
      r.dims.N, r.dims.R, r.options.starts, r.options.newton_tol, r.options.marginal_tol));
  std::string kappa_head;
  for (Index k = 0; k < r.dims.R; ++k)
    kappa_head += fmt::format("{:>9}", fmt::format("kappa{}", k + 1));
  line(fmt::format("  {:<14}{:>7} {:>3} {:<10}{}{:>9}{:>10}{:>11}{:>7}  {}", "condition", "target",
                   "#", "kind", kappa_head, "y", "|F|", "max Re l", "starts", "trial"));
  for (const ConditionPoints& c : r.conditions) {
    for (std::size_t i = 0; i < c.points.size(); ++i) {
      const FixedPoint& p = c.points[i];
      const std::string kind =
          p.kind == PointKind::kSaddle ? fmt::format("saddle-{}", p.unstable) : to_string(p.kind);
      const double re = p.eigenvalues.empty() ? 0.0 : p.eigenvalues.front().real();
      const bool wrong = !readout_correct(c.input, p);
      line(fmt::format("  {:<14}{:>7} {:>3} {:<10}{}{:>9.4f}{:>10.1e}{:>11.4f}{:>7}  {}{}",
                       i == 0 ? c.input.name : "", i == 0 ? sign(c.input.target) : "", i, kind,
                       vec_text(p.kappa), p.y, p.F_norm, re, p.starts,
                       c.trial.point == static_cast<int>(i) ? "<- trial" : "",
                       wrong && p.kind == PointKind::kStable ? "  (wrong sign)" : ""));
    }
    if (c.points.empty())
      line(fmt::format("  {:<14}{:>7}   (no point found)", c.input.name, sign(c.input.target)));
  }
  line("");
  line("  where each condition's trial ends (run on under its input until |F| <= " +
       fmt::format("{:g}", r.options.settle_tol) + "):");
  int landed = 0;
  for (const ConditionPoints& c : r.conditions) {
    const bool ok = trial_lands_on_stable_point(c);
    landed += ok ? 1 : 0;
    line(fmt::format(
        "  {:<14} y(T) {:+.3f}  settled after {:.0f} (|F| {:.1e})  on point {} at "
        "{:.1e} in kappa: {}",
        c.input.name, c.trial.y, c.trial.settle_time, c.trial.settled_F_norm, c.trial.point,
        c.trial.kappa_distance, ok ? "a stable point" : "NOT a reported stable point"));
  }
  if (mean_field) {
    line("");
    line(
        "  mean field (one Gaussian population fitted to the loadings, bulk variance "
        "self-consistent): its fixed points");
    line("  and the distance in kappa to the network's nearest root");
    for (std::size_t ci = 0; ci < r.conditions.size(); ++ci) {
      const MeanFieldCondition& m = (*mean_field)[ci];
      std::string text = fmt::format("  {:<14}", r.conditions[ci].input.name);
      if (m.points.empty()) text += " (none found)";
      for (std::size_t i = 0; i < m.points.size(); ++i) {
        text +=
            fmt::format(" [{}{} y {:+.2f}: {:.3f} from #{}]", m.points[i].stable ? "" : "unstable ",
                        vec_text(m.points[i].kappa), m.points[i].y, m.distance[i], m.nearest[i]);
      }
      line(text);
    }
  }
  int candidates = 0, iterations = 0;
  for (const ConditionPoints& c : r.conditions) {
    candidates += c.candidates;
    iterations += c.newton_iterations;
  }
  line(fmt::format("  {}/{} trials end on a reported stable point (within 1e-4 in kappa)", landed,
                   r.conditions.size()));
  line(
      fmt::format("  {} Newton solves ({} iterations) after merging the relaxed starts; wall "
                  "time {:.2f} s on {} threads",
                  candidates, iterations, r.wall_time_s, r.options.threads));
  return out;
}

}  // namespace lrnn
