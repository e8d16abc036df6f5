// The Butcher tableau of Tsitouras 5(4) (Ch. Tsitouras, "Runge–Kutta pairs of order 5(4) satisfying
// only the first column simplifying assumption", Comput. Math. Appl. 62 (2011) 770-775), with its
// 4th-order interpolant; the values are those of the paper as diffrax's Tsit5 and OrdinaryDiffEq's
// Tsit5 use them. Like Dormand–Prince it has 7 stages, c6 = c7 = 1 and b_i = a_7i (FSAL), but b2 ≠
// 0 and every a_ij is non-zero. Kept in double, as dopri5_tableau.hpp.
#pragma once

namespace lrnn::detail::tsit5 {

inline constexpr double c2 = 0.161, c3 = 0.327, c4 = 0.9, c5 = 0.9800255409045097;

inline constexpr double a21 = 0.161;
inline constexpr double a31 = -0.008480655492356989, a32 = 0.335480655492357;
inline constexpr double a41 = 2.897153057105493, a42 = -6.359448489975075, a43 = 4.3622954328695815;
inline constexpr double a51 = 5.325864828439257, a52 = -11.748883564062828,
                        a53 = 7.4955393428898365, a54 = -0.09249506636175525;
inline constexpr double a61 = 5.86145544294642, a62 = -12.92096931784711, a63 = 8.159367898576159,
                        a64 = -0.071584973281401, a65 = -0.028269050394068383;
// b_i = a_7i (b7 = 0).
inline constexpr double b1 = 0.09646076681806523, b2 = 0.01, b3 = 0.4798896504144996,
                        b4 = 1.379008574103742, b5 = -3.290069515436081, b6 = 2.324710524099774;
// e_i = b_i - b̂_i (the sign does not matter to the error norm).
inline constexpr double e1 = -0.00178001105222577714, e2 = -0.0008164344596567469,
                        e3 = 0.007880878010261995, e4 = -0.1447110071732629,
                        e5 = 0.5823571654525552, e6 = -0.45808210592918697,
                        e7 = 0.015151515151515152;
// The interpolant: X(t0 + θh) = X0 + h Σ b_i(θ) k_i with
//   b_1(θ) = θ (1 + θ (r12 + θ (r13 + θ r14))),  b_i(θ) = θ² (ri2 + θ (ri3 + θ ri4)), i = 2 .. 7;
// b_i(1) = b_i, so the interpolant ends on X1.
inline constexpr double r12 = -2.763706197274826, r13 = 2.9132554618219126,
                        r14 = -1.0530884977290216;
inline constexpr double r22 = 0.13169999999999998, r23 = -0.2234, r24 = 0.1017;
inline constexpr double r32 = 3.9302962368947516, r33 = -5.941033872131505, r34 = 2.490627285651253;
inline constexpr double r42 = -12.411077166933676, r43 = 30.33818863028232,
                        r44 = -16.548102889244902;
inline constexpr double r52 = 37.50931341651104, r53 = -88.1789048947664, r54 = 47.37952196281928;
inline constexpr double r62 = -27.896526289197286, r63 = 65.09189467479366,
                        r64 = -34.87065786149661;
inline constexpr double r72 = 1.5, r73 = -4.0, r74 = 2.5;

}  // namespace lrnn::detail::tsit5
