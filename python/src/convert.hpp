// NumPy arrays in and out of the extension: checked conversions that name the argument and say
// what shape and type it must have (TypeError, ValueError), never a crash. Private to python/.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "lrnn/core/types.hpp"

namespace lrnn::python {

namespace py = pybind11;

/// `obj` as a NumPy array (no copy when it is one) of a real or integer dtype; TypeError for
/// other dtypes (complex, object, strings) and for objects NumPy cannot make an array of.
py::array real_array(const py::handle& obj, const std::string& name);

/// `obj` as a C-contiguous float64 array (a copy when it is not one already): any real or integer
/// dtype, any memory order or strides. TypeError for other dtypes (complex, object, strings).
py::array_t<double, py::array::c_style> as_float64(const py::handle& obj, const std::string& name);

/// The same as float32, for inputs that stay float32 (a float32 u into a float32 network).
py::array_t<float, py::array::c_style> as_float32(const py::handle& obj, const std::string& name);

/// Whether `obj` is a NumPy array of dtype float32.
bool is_float32(const py::handle& obj);

/// ValueError unless `a` has `ndim` dimensions; "(trials, K, d_in)" says which in messages.
void require_ndim(const py::array& a, const std::string& name, py::ssize_t ndim,
                  const std::string& shape);

/// ValueError naming the first NaN or Inf entry of `a`.
void require_finite(const py::array_t<double, py::array::c_style>& a, const std::string& name);

/// `a` (any shape) as a flat vector of doubles.
std::vector<double> to_vector(const py::array_t<double, py::array::c_style>& a);

/// A column-major Eigen matrix copied into a new C-order NumPy array of shape (rows, cols).
template <typename Scalar>
py::array_t<double> to_numpy(const Eigen::Ref<const MatX<Scalar>>& m) {
  py::array_t<double> out({m.rows(), m.cols()});
  auto v = out.mutable_unchecked<2>();
  for (Index i = 0; i < m.rows(); ++i) {
    for (Index j = 0; j < m.cols(); ++j) v(i, j) = static_cast<double>(m(i, j));
  }
  return out;
}

/// A C-order (rows, cols) float64 array into a column-major Eigen matrix.
MatX<double> to_matrix(const py::array_t<double, py::array::c_style>& a);

}  // namespace lrnn::python
