#include "lrnn/integrate/dopri5.hpp"

#include "integrate/dopri5_tableau.hpp"

namespace lrnn {
namespace {

using namespace detail::dopri5;  // NOLINT(google-build-using-namespace): the tableau

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
