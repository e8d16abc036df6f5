#include "convert.hpp"

#include <cmath>
#include <sstream>

namespace lrnn::python {
namespace {

std::string shape_text(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  s << (a.ndim() == 1 ? ",)" : ")");
  return s.str();
}

}  // namespace

py::array real_array(const py::handle& obj, const std::string& name) {
  py::array a = py::array::ensure(obj);
  if (!a) throw py::type_error(name + ": expected a NumPy array (or a nested sequence of numbers)");
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {
    throw py::type_error(name + ": the array has dtype " + py::str(a.dtype()).cast<std::string>() +
                         "; it must hold real numbers (float or integer)");
  }
  return a;
}

py::array_t<double, py::array::c_style> as_float64(const py::handle& obj, const std::string& name) {
  return py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(
      real_array(obj, name));
}

py::array_t<float, py::array::c_style> as_float32(const py::handle& obj, const std::string& name) {
  return py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(
      real_array(obj, name));
}

bool is_float32(const py::handle& obj) {
  return py::isinstance<py::array>(obj) &&
         py::reinterpret_borrow<py::array>(obj).dtype().is(py::dtype::of<float>());
}

void require_ndim(const py::array& a, const std::string& name, py::ssize_t ndim,
                  const std::string& shape) {
  if (a.ndim() != ndim) {
    throw py::value_error(name + " has shape " + shape_text(a) + " but must be " + shape);
  }
}

void require_finite(const py::array_t<double, py::array::c_style>& a, const std::string& name) {
  const double* p = a.data();
  for (py::ssize_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(p[i])) {
      // The multi-index of the flat position i, for the message.
      std::string at;
      py::ssize_t rest = i;
      for (py::ssize_t d = a.ndim() - 1; d >= 0; --d) {
        at = std::to_string(rest % a.shape(d)) + (at.empty() ? "" : ", ") + at;
        rest /= a.shape(d);
      }
      throw py::value_error(name + "[" + at + "] is " +
                            (std::isnan(p[i]) ? "NaN" : (p[i] > 0 ? "+Inf" : "-Inf")));
    }
  }
}

std::vector<double> to_vector(const py::array_t<double, py::array::c_style>& a) {
  return std::vector<double>(a.data(), a.data() + a.size());
}

MatX<double> to_matrix(const py::array_t<double, py::array::c_style>& a) {
  auto v = a.unchecked<2>();
  MatX<double> m(v.shape(0), v.shape(1));
  for (Index i = 0; i < m.rows(); ++i) {
    for (Index j = 0; j < m.cols(); ++j) m(i, j) = v(i, j);
  }
  return m;
}

}  // namespace lrnn::python
