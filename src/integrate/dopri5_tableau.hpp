// The Butcher tableau of Dormand–Prince RK5(4)7M (Hairer, Nørsett & Wanner I, table II.5.2), shared
// by the stepper and by the discrete adjoint that reverses its steps. Kept in double: callers round
// to Scalar only after multiplying by h, so a float solve loses no more than float rounding.
#pragma once

namespace lrnn::detail::dopri5 {

inline constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;

inline constexpr double a21 = 1.0 / 5;
inline constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
inline constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
inline constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                        a54 = -212.0 / 729;
inline constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247,
                        a64 = 49.0 / 176, a65 = -5103.0 / 18656;
// b_i = a_7i (b2 = b7 = 0).
inline constexpr double b1 = 35.0 / 384, b3 = 500.0 / 1113, b4 = 125.0 / 192, b5 = -2187.0 / 6784,
                        b6 = 11.0 / 84;
// e_i = b_i - b̂_i with b̂ = (5179/57600, 0, 7571/16695, 393/640, -92097/339200, 187/2100, 1/40).
inline constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920,
                        e5 = -17253.0 / 339200, e6 = 22.0 / 525, e7 = -1.0 / 40;
// Shampine's dense output coefficients, as in Hairer's dopri5.f (CONTD5).
inline constexpr double d1 = -12715105075.0 / 11282082432.0, d3 = 87487479700.0 / 32700410799.0,
                        d4 = -10690763975.0 / 1880347072.0, d5 = 701980252875.0 / 199316789632.0,
                        d6 = -1453857185.0 / 822651844.0, d7 = 69997945.0 / 29380423.0;

}  // namespace lrnn::detail::dopri5
