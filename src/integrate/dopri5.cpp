#include "lrnn/integrate/dopri5.hpp"

#include "integrate/dopri5_tableau.hpp"
#include "integrate/rk_stage_table.hpp"
#include "integrate/tsit5_tableau.hpp"

namespace lrnn {
namespace {

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
  // The stage states need not be kept: one buffer takes each in turn.
  Mat* const Y[5] = {&Xs_, &Xs_, &Xs_, &Xs_, &Xs_};
  Mat* const K[4] = {&k2_, &k3_, &k4_, &k5_};
  stage_states(f, t0, t1, X0, k1, Y, K);
  // c6 = c7 = 1: these stages lie at the end of [t0, t1]; t1 is passed exactly (not t0 + h) so
  // that a step clipped to a stop time evaluates the input exactly there, from the left.
  f({t1, Side::kLeft}, Xs_, k6_);
  const double h = t1 - t0;
  if (scheme_ == RkScheme::kTsit5) {
    finish_tsit5(f, t1, h, X0, k1, X1, k7, E);
  } else {
    finish_dopri5(f, t1, h, X0, k1, X1, k7, E);
  }
}

template <typename Scalar>
void Dopri5<Scalar>::finish_dopri5(Rhs<Scalar> f, double t1, double h, const Mat& X0, const Mat& k1,
                                   Mat& X1, Mat& k7, Mat& E) const {
  using namespace detail::dopri5;  // NOLINT(google-build-using-namespace): the tableau
  const auto s = [h](double a) { return times_h<Scalar>(a, h); };
  // b2 = e2 = 0: k2 enters neither sum.
  X1 = X0 + s(b1) * k1 + s(b3) * k3_ + s(b4) * k4_ + s(b5) * k5_ + s(b6) * k6_;
  f({t1, Side::kLeft}, X1, k7);
  E = s(e1) * k1 + s(e3) * k3_ + s(e4) * k4_ + s(e5) * k5_ + s(e6) * k6_ + s(e7) * k7;
}

template <typename Scalar>
void Dopri5<Scalar>::finish_tsit5(Rhs<Scalar> f, double t1, double h, const Mat& X0, const Mat& k1,
                                  Mat& X1, Mat& k7, Mat& E) const {
  using namespace detail::tsit5;  // NOLINT(google-build-using-namespace): the tableau
  const auto s = [h](double a) { return times_h<Scalar>(a, h); };
  X1 = X0 + s(b1) * k1 + s(b2) * k2_ + s(b3) * k3_ + s(b4) * k4_ + s(b5) * k5_ + s(b6) * k6_;
  f({t1, Side::kLeft}, X1, k7);
  E = s(e1) * k1 + s(e2) * k2_ + s(e3) * k3_ + s(e4) * k4_ + s(e5) * k5_ + s(e6) * k6_ + s(e7) * k7;
}

template <typename Scalar>
void Dopri5<Scalar>::stages(Rhs<Scalar> f, double t0, double t1, const Mat& X0, const Mat& k1,
                            Mat* const Y[5], Mat* const k[4]) const {
  stage_states(f, t0, t1, X0, k1, Y, k);
}

template <typename Scalar>
void Dopri5<Scalar>::stage_states(Rhs<Scalar> f, double t0, double t1, const Mat& X0, const Mat& k1,
                                  Mat* const Y[5], Mat* const K[4]) const {
  // The one place both schemes form their stages, from the tableau as arrays (rk_stage_table.hpp,
  // the same doubles as the named coefficients), so that step() and stages() agree bit for bit.
  // Each stage state is one coefficient-wise expression: Eigen evaluates it in a single pass into
  // the preallocated buffer, without temporaries.
  const detail::RkStageTable& T = detail::stage_table(scheme_);
  const auto& a = T.a;
  const double h = t1 - t0;
  const auto s = [h](double c) { return times_h<Scalar>(c, h); };
  Mat &Y2 = *Y[0], &Y3 = *Y[1], &Y4 = *Y[2], &Y5 = *Y[3], &Y6 = *Y[4];
  Mat &K2 = *K[0], &K3 = *K[1], &K4 = *K[2], &K5 = *K[3];
  Y2 = X0 + s(a[1][0]) * k1;
  f({t0 + T.c[1] * h, Side::kRight}, Y2, K2);
  Y3 = X0 + s(a[2][0]) * k1 + s(a[2][1]) * K2;
  f({t0 + T.c[2] * h, Side::kRight}, Y3, K3);
  Y4 = X0 + s(a[3][0]) * k1 + s(a[3][1]) * K2 + s(a[3][2]) * K3;
  f({t0 + T.c[3] * h, Side::kRight}, Y4, K4);
  Y5 = X0 + s(a[4][0]) * k1 + s(a[4][1]) * K2 + s(a[4][2]) * K3 + s(a[4][3]) * K4;
  f({t0 + T.c[4] * h, Side::kRight}, Y5, K5);
  Y6 = X0 + s(a[5][0]) * k1 + s(a[5][1]) * K2 + s(a[5][2]) * K3 + s(a[5][3]) * K4 + s(a[5][4]) * K5;
}

template <typename Scalar>
void Dopri5<Scalar>::dense(double theta, double h, const Mat& X0, const Mat& k1, const Mat& k7,
                           Mat& out) const {
  const auto s = [h](double a) { return times_h<Scalar>(a, h); };
  const double th = theta;
  if (scheme_ == RkScheme::kTsit5) {
    using namespace detail::tsit5;  // NOLINT(google-build-using-namespace): the tableau
    const double t2 = th * th;
    const auto poly = [th, t2](double r2, double r3, double r4) {
      return t2 * (r2 + th * (r3 + th * r4));
    };
    out = X0 + s(th * (1.0 + th * (r12 + th * (r13 + th * r14)))) * k1 +
          s(poly(r22, r23, r24)) * k2_ + s(poly(r32, r33, r34)) * k3_ +
          s(poly(r42, r43, r44)) * k4_ + s(poly(r52, r53, r54)) * k5_ +
          s(poly(r62, r63, r64)) * k6_ + s(poly(r72, r73, r74)) * k7;
    return;
  }
  using namespace detail::dopri5;  // NOLINT(google-build-using-namespace): the tableau
  const double om = 1.0 - theta;
  const double p = th * th * (3.0 - 2.0 * th);  // weight of the step X1 - X0
  const double q = th * th * om * om;           // weight of Shampine's correction
  out = X0 + s(p * b1 + th * om * om + q * d1) * k1 + s(p * b3 + q * d3) * k3_ +
        s(p * b4 + q * d4) * k4_ + s(p * b5 + q * d5) * k5_ + s(p * b6 + q * d6) * k6_ +
        s(-th * th * om + q * d7) * k7;
}

template class Dopri5<float>;
template class Dopri5<double>;

}  // namespace lrnn
