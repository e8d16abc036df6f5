#include "lrnn/integrate/dopri5.hpp"

namespace lrnn {
namespace {

// The tableau of RK5(4)7M (Hairer, Nørsett & Wanner I, table II.5.2), kept in double and rounded
// to Scalar only after multiplying by h, so a float solve loses no more than float rounding.
constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;

constexpr double a21 = 1.0 / 5;
constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                 a54 = -212.0 / 729;
constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176,
                 a65 = -5103.0 / 18656;
// b_i = a_7i (b2 = b7 = 0).
constexpr double b1 = 35.0 / 384, b3 = 500.0 / 1113, b4 = 125.0 / 192, b5 = -2187.0 / 6784,
                 b6 = 11.0 / 84;
// e_i = b_i - b̂_i with b̂ = (5179/57600, 0, 7571/16695, 393/640, -92097/339200, 187/2100, 1/40).
constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200,
                 e6 = 22.0 / 525, e7 = -1.0 / 40;
// Shampine's dense output coefficients, as in Hairer's dopri5.f (CONTD5).
constexpr double d1 = -12715105075.0 / 11282082432.0, d3 = 87487479700.0 / 32700410799.0,
                 d4 = -10690763975.0 / 1880347072.0, d5 = 701980252875.0 / 199316789632.0,
                 d6 = -1453857185.0 / 822651844.0, d7 = 69997945.0 / 29380423.0;

template <typename Scalar>
Scalar times_h(double a, double h) {
  return static_cast<Scalar>(a * h);
}

}  // namespace

template <typename Scalar>
void Dopri5<Scalar>::resize(Index rows, Index cols) {
  for (Mat* m : {&Xs_, &k2_, &k3_, &k4_, &k5_, &k6_}) m->resize(rows, cols);
}

template <typename Scalar>
void Dopri5<Scalar>::step(Rhs<Scalar> f, double t0, double t1, const Mat& X0, const Mat& k1,
                          Mat& X1, Mat& k7, Mat& E) {
  eigen_assert(Xs_.rows() == X0.rows() && Xs_.cols() == X0.cols());
  const double h = t1 - t0;
  const auto s = [h](double a) { return times_h<Scalar>(a, h); };
  // Each stage state is one coefficient-wise expression: Eigen evaluates it in a single pass into
  // the preallocated buffer, without temporaries.
  Xs_ = X0 + s(a21) * k1;
  f({t0 + c2 * h, Side::kRight}, Xs_, k2_);
  Xs_ = X0 + s(a31) * k1 + s(a32) * k2_;
  f({t0 + c3 * h, Side::kRight}, Xs_, k3_);
  Xs_ = X0 + s(a41) * k1 + s(a42) * k2_ + s(a43) * k3_;
  f({t0 + c4 * h, Side::kRight}, Xs_, k4_);
  Xs_ = X0 + s(a51) * k1 + s(a52) * k2_ + s(a53) * k3_ + s(a54) * k4_;
  f({t0 + c5 * h, Side::kRight}, Xs_, k5_);
  Xs_ = X0 + s(a61) * k1 + s(a62) * k2_ + s(a63) * k3_ + s(a64) * k4_ + s(a65) * k5_;
  // c6 = c7 = 1: these stages lie at the end of [t0, t1]; t1 is passed exactly (not t0 + h) so
  // that a step clipped to a stop time evaluates the input exactly there, from the left.
  f({t1, Side::kLeft}, Xs_, k6_);
  X1 = X0 + s(b1) * k1 + s(b3) * k3_ + s(b4) * k4_ + s(b5) * k5_ + s(b6) * k6_;
  f({t1, Side::kLeft}, X1, k7);
  E = s(e1) * k1 + s(e3) * k3_ + s(e4) * k4_ + s(e5) * k5_ + s(e6) * k6_ + s(e7) * k7;
}

template <typename Scalar>
void Dopri5<Scalar>::dense(double theta, double h, const Mat& X0, const Mat& k1, const Mat& k7,
                           Mat& out) const {
  const double th = theta, om = 1.0 - theta;
  const double p = th * th * (3.0 - 2.0 * th);  // weight of the step X1 - X0
  const double q = th * th * om * om;           // weight of Shampine's correction
  const auto s = [h](double a) { return times_h<Scalar>(a, h); };
  out = X0 + s(p * b1 + th * om * om + q * d1) * k1 + s(p * b3 + q * d3) * k3_ +
        s(p * b4 + q * d4) * k4_ + s(p * b5 + q * d5) * k5_ + s(p * b6 + q * d6) * k6_ +
        s(-th * th * om + q * d7) * k7;
}

template class Dopri5<float>;
template class Dopri5<double>;

}  // namespace lrnn
