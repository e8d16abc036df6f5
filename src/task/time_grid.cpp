#include "lrnn/task/time_grid.hpp"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "lrnn/core/errors.hpp"
#include "lrnn/task/options.hpp"

namespace lrnn {

Index whole_steps(double x, double dt) {
  const double q = x / dt;
  const double r = std::round(q);
  if (std::abs(q - r) > 1e-9 * std::max(1.0, std::abs(q))) return -1;
  return static_cast<Index>(r);
}

TimeGrid make_time_grid(const TaskOptions& task, double dt) {
  TimeGrid grid;
  grid.dt = dt;
  grid.T = task.T();
  grid.T_burn = task.T_burn;
  grid.T_avg = task.T_avg;
  grid.K = whole_steps(grid.T, dt);
  grid.k_burn = whole_steps(task.T_burn, dt);
  grid.m_window = whole_steps(task.T_avg, dt);
  if (grid.K <= 0 || grid.k_burn < 0 || grid.m_window <= 0 || grid.m_window > grid.K) {
    throw ConfigError("integrator.dt = " + std::to_string(dt) +
                      ": T, T_burn and T_avg must be positive whole numbers of steps");
  }
  return grid;
}

TimeGrid make_time_grid(Index K, double dt, double T_avg) {
  if (K < 1 || !(dt > 0.0)) {
    throw ConfigError(fmt::format(
        "a trial grid needs K >= 1 steps of integrator.dt > 0; got K = {}, dt = {}", K, dt));
  }
  TimeGrid grid;
  grid.dt = dt;
  grid.K = K;
  grid.T = static_cast<double>(K) * dt;
  grid.T_avg = T_avg;
  grid.m_window = whole_steps(T_avg, dt);
  if (grid.m_window <= 0 || grid.m_window > K) {
    throw ConfigError(
        fmt::format("task.T_avg = {}: the loss window must be a positive whole number of steps of "
                    "integrator.dt = {} and at most T = K dt = {} (K = {} steps)",
                    T_avg, dt, grid.T, K));
  }
  return grid;
}

}  // namespace lrnn
