// The time grid of a trial (DESIGN.md section 2): K = T/dt Euler steps, states x_0 .. x_K at
// t_k = k dt, input u_k held on [t_k, t_{k+1}), readouts at t_1 .. t_K, and the loss window
// W = [T - T_avg, T] covering the last m = T_avg/dt readouts (k = K-m+1 .. K).
#pragma once

#include "lrnn/core/types.hpp"

namespace lrnn {

struct TaskOptions;

struct TimeGrid {
  double dt = 0.1;      ///< step (model time units)
  Index K = 0;          ///< number of steps, T / dt
  Index k_burn = 0;     ///< first step with the stimulus on, T_burn / dt
  Index m_window = 0;   ///< readouts in the loss window, T_avg / dt
  double T = 0.0;       ///< trial length
  double T_burn = 0.0;  ///< stimulus onset
  double T_avg = 0.0;   ///< window length

  /// First step index k whose readout y(t_k) is in the window (K - m + 1).
  Index window_first() const { return K - m_window + 1; }
  bool in_window(Index k) const { return k >= window_first() && k <= K; }
  double time(Index k) const { return static_cast<double>(k) * dt; }
};

/// Builds the grid; throws ConfigError if T, T_burn or T_avg is not a whole number of steps.
TimeGrid make_time_grid(const TaskOptions& task, double dt);

/// The grid of trials that come with their own length (a trials file): K steps of dt, T = K dt,
/// the window T_avg, and no stimulus onset (k_burn = 0, T_burn = 0: the inputs say where it is).
/// Throws ConfigError if K < 1, dt <= 0, or T_avg is not a whole number of steps in (0, T].
TimeGrid make_time_grid(Index K, double dt, double T_avg);

/// round(x / dt) when x is a whole number of steps within a relative 1e-9, else -1.
Index whole_steps(double x, double dt);

}  // namespace lrnn
