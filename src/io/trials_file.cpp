#include "lrnn/io/trials_file.hpp"

#include <H5Cpp.h>
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "io/hdf5_file.hpp"
#include "lrnn/core/errors.hpp"

namespace lrnn {
namespace {

using detail::h5_detail;
using detail::Shape;
using detail::shape_text;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw InputError(path + ": " + what);
}

std::string nonfinite_text(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

// ---------------------------------------------------------------------------------------------
// Reading

// One dataset of the file, found and shape-checked, not yet read.
struct Dataset {
  std::string name;  ///< full name for messages, "/u" or "/trials/u"
  H5::DataSet ds;
  Shape shape;
  H5T_class_t cls = H5T_NO_CLASS;
};

class Reader {
 public:
  Reader(std::string path, const H5::Group& group, std::string prefix)
      : path_(std::move(path)), group_(group), prefix_(std::move(prefix)) {}

  std::string full(const std::string& name) const { return prefix_ + "/" + name; }

  // Opens `name`, or returns nothing when it is absent and optional. Checks that it is a numeric
  // dataset (integer, float, or an enum over integers as h5py writes numpy bools).
  std::optional<Dataset> open(const std::string& name, bool required) const {
    const std::string f = full(name);
    if (!group_.nameExists(name)) {
      if (!required) return std::nullopt;
      fail(path_, f + " is missing");
    }
    if (group_.childObjType(name) != H5O_TYPE_DATASET) fail(path_, f + " is not a dataset");
    Dataset d{f, group_.openDataSet(name), {}, H5T_NO_CLASS};
    const H5::DataSpace space = d.ds.getSpace();
    if (space.getSimpleExtentType() == H5S_NULL) fail(path_, f + " holds no data (null dataspace)");
    if (space.getSimpleExtentType() == H5S_SIMPLE) {
      d.shape.resize(static_cast<std::size_t>(space.getSimpleExtentNdims()));
      space.getSimpleExtentDims(d.shape.data());
    }
    d.cls = d.ds.getTypeClass();
    const bool numeric =
        d.cls == H5T_INTEGER || d.cls == H5T_FLOAT ||
        (d.cls == H5T_ENUM && d.ds.getEnumType().getSuper().getClass() == H5T_INTEGER);
    if (!numeric) {
      fail(path_, f + " is of HDF5 type class " + type_class_text(d.cls) + ", but must be numeric");
    }
    return d;
  }

  // A per-trial vector: shape (trials) or (trials x 1).
  void check_per_trial(const Dataset& d, hsize_t n_trials, const std::string& u_name) const {
    const bool column = d.shape.size() == 2 && d.shape[1] == 1;
    if (d.shape.size() != 1 && !column) {
      fail(path_,
           d.name + " has shape " + shape_text(d.shape) + " but must be trials (or trials x 1)");
    }
    if (d.shape[0] != n_trials) {
      fail(path_, fmt::format("{} has {} entries but {} has {} trials", d.name, d.shape[0], u_name,
                              n_trials));
    }
  }

  // Reads a whole dataset converted to double.
  std::vector<double> read_doubles(const Dataset& d) const {
    std::size_t n = 1;
    for (hsize_t e : d.shape) n *= static_cast<std::size_t>(e);
    std::vector<double> out(n);
    if (n == 0) return out;
    if (d.cls != H5T_ENUM) {
      d.ds.read(out.data(), H5::PredType::NATIVE_DOUBLE);
      return out;
    }
    // HDF5 does not convert enums to numbers: read the stored integers as bytes and decode them.
    const H5::EnumType type = d.ds.getEnumType();
    const H5::DataType base = type.getSuper();
    const std::size_t size = H5Tget_size(base.getId());
    const bool is_signed = H5Tget_sign(base.getId()) == H5T_SGN_2;
    const bool big_endian = H5Tget_order(base.getId()) == H5T_ORDER_BE;
    if (size == 0 || size > 8) fail(path_, d.name + " is an enum of unsupported size");
    std::vector<unsigned char> raw(n * size);
    d.ds.read(raw.data(), type);
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t bits = 0;
      for (std::size_t b = 0; b < size; ++b) {
        const std::size_t at = big_endian ? b : size - 1 - b;
        bits = (bits << 8) | raw[i * size + at];
      }
      std::int64_t value = static_cast<std::int64_t>(bits);
      if (is_signed && size < 8 && (bits >> (8 * size - 1)) != 0) {
        value = static_cast<std::int64_t>(bits | (~std::uint64_t{0} << (8 * size)));
      }
      out[i] = static_cast<double>(value);
    }
    return out;
  }

  const std::string& path() const { return path_; }

 private:
  static std::string type_class_text(H5T_class_t cls) {
    switch (cls) {
      case H5T_STRING:
        return "string";
      case H5T_COMPOUND:
        return "compound";
      case H5T_ENUM:
        return "enum (not over integers)";
      case H5T_ARRAY:
        return "array";
      case H5T_VLEN:
        return "variable-length";
      case H5T_OPAQUE:
        return "opaque";
      case H5T_REFERENCE:
        return "reference";
      case H5T_BITFIELD:
        return "bitfield";
      case H5T_TIME:
        return "time";
      default:
        return std::to_string(static_cast<int>(cls));
    }
  }

  std::string path_;
  H5::Group group_;
  std::string prefix_;
};

// Values that must be whole numbers in [lo, hi] (/context, /split); `rule` says so in words.
std::vector<int> to_codes(const std::string& path, const std::string& name,
                          const std::vector<double>& values, int lo, int hi,
                          const std::string& rule) {
  std::vector<int> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!(v >= lo && v <= hi && v == std::floor(v))) {
      fail(path, fmt::format("{}[{}] = {} must be {}", name, i, v, rule));
    }
    out[i] = static_cast<int>(v);
  }
  return out;
}

void check_labels(const std::string& path, const std::string& name,
                  const std::vector<double>& label, LabelType type) {
  const bool pm1 = type == LabelType::kPm1;
  const auto allowed = [pm1](double v) {
    return pm1 ? (v == -1.0 || v == 1.0) : (v == 0.0 || v == 1.0);
  };
  for (std::size_t i = 0; i < label.size(); ++i) {
    if (allowed(label[i])) continue;
    // A whole file of the other convention is a config mistake more often than a data one.
    bool other = true;
    for (double v : label)
      other = other && (pm1 ? (v == 0.0 || v == 1.0) : (v == -1.0 || v == 1.0));
    const std::string hint =
        other ? fmt::format("; {} holds only {}: set task.label_type: {}", name,
                            pm1 ? "0 and 1" : "-1 and +1", pm1 ? "binary" : "pm1")
              : "";
    fail(path, fmt::format("{}[{}] = {} must be {} (task.label_type = {}){}", name, i, label[i],
                           pm1 ? "-1 or +1" : "0 or 1", to_string(type), hint));
  }
}

// The product of the dimensions of /u, or InputError if it does not fit in memory's index type.
std::size_t checked_count(const std::string& path, const std::string& name, const Shape& shape) {
  std::size_t n = 1;
  for (hsize_t e : shape) {
    if (e != 0 && n > std::numeric_limits<std::size_t>::max() / 8 / e) {
      fail(path, name + " of shape " + shape_text(shape) + " is too large to load");
    }
    n *= static_cast<std::size_t>(e);
  }
  return n;
}

template <typename T>
void check_finite_u(const std::string& path, const std::string& name, const std::vector<T>& u,
                    Index K, Index d_in) {
  for (std::size_t i = 0; i < u.size(); ++i) {
    if (std::isfinite(u[i])) continue;
    const auto flat = static_cast<Index>(i);
    fail(path, fmt::format("{}[{}, {}, {}] is {}", name, flat / (K * d_in), (flat / d_in) % K,
                           flat % d_in, nonfinite_text(static_cast<double>(u[i]))));
  }
}

void check_finite_coherence(const std::string& path, const std::string& name,
                            const std::vector<double>& coherence) {
  for (std::size_t i = 0; i < coherence.size(); ++i) {
    if (!std::isfinite(coherence[i])) {
      fail(path, fmt::format("{}[{}, {}] is {}", name, i / 2, i % 2, nonfinite_text(coherence[i])));
    }
  }
}

// An array of the trials' arrays whose size is not `expected` entries.
void check_size(const std::string& path, const std::string& name, std::size_t size,
                std::int64_t expected, const std::string& shape) {
  if (size != static_cast<std::size_t>(expected)) {
    fail(path, fmt::format("{} has {} entries but must be {} ({})", name, size, shape, expected));
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

void write_hdf5(H5::H5File& file, const TrialBatch<double>& t, const std::vector<int>* split) {
  const Index B = t.n_trials, K = t.n_steps, d = t.d_in;
  const auto hB = static_cast<hsize_t>(B);

  // Row-major trials x K x d_in, as h5py shows it: u[j, k, c].
  std::vector<double> u(static_cast<std::size_t>(B * K * d));
  for (Index j = 0; j < B; ++j) {
    for (Index k = 0; k < K; ++k) {
      for (Index c = 0; c < d; ++c) {
        u[static_cast<std::size_t>((j * K + k) * d + c)] = t.u(c, k * B + j);
      }
    }
  }
  // u is piecewise constant in time, so deflate shrinks it many times over.
  detail::write_dataset(file, "u", {hB, static_cast<hsize_t>(K), static_cast<hsize_t>(d)}, u.data(),
                        /*compress=*/true);
  detail::write_dataset(file, "label", {hB}, t.target.data());
  detail::write_dataset(file, "context", {hB}, t.context.data());
  std::vector<double> coherence(2 * static_cast<std::size_t>(B));
  for (Index j = 0; j < B; ++j) {
    for (Index i = 0; i < 2; ++i)
      coherence[static_cast<std::size_t>(2 * j + i)] = t.coherence(i, j);
  }
  detail::write_dataset(file, "coherence", {hB, 2}, coherence.data());
  if (split != nullptr) detail::write_dataset(file, "split", {hB}, split->data());
}

// /u into `values` (float or double), refused with a message when it does not fit in memory.
template <typename T>
void read_u(const std::string& path, const Dataset& u, std::size_t count, std::vector<T>& values) {
  try {
    values.resize(count);
    u.ds.read(values.data(),
              std::is_same_v<T, float> ? H5::PredType::NATIVE_FLOAT : H5::PredType::NATIVE_DOUBLE);
  } catch (const std::bad_alloc&) {
    fail(path, fmt::format("{} of shape {} ({:.0f} MB in memory) is too large to load", u.name,
                           shape_text(u.shape),
                           static_cast<double>(count) * static_cast<double>(sizeof(T)) / 1e6));
  }
}

// The datasets of a trials file, their shapes checked: /u (trials x K x d_in), /label, and the
// optional /context, /coherence (trials x 2) and /split, each with one entry per trial.
struct Layout {
  Dataset u, label;
  std::optional<Dataset> context, coherence, split;
};

Layout check_layout(const std::string& path, const Reader& r) {
  const Dataset u = *r.open("u", true);
  if (u.shape.size() != 3) {
    fail(path,
         u.name + " has shape " + shape_text(u.shape) + " but must be trials x K x d_in (rank 3)");
  }
  if (u.shape[0] == 0) fail(path, u.name + " has shape " + shape_text(u.shape) + ": zero trials");
  if (u.shape[1] == 0) fail(path, u.name + " has shape " + shape_text(u.shape) + ": K = 0 steps");
  if (u.shape[2] == 0) {
    fail(path, u.name + " has shape " + shape_text(u.shape) + ": d_in = 0 input channels");
  }
  const hsize_t n = u.shape[0];
  const Dataset label = *r.open("label", true);
  r.check_per_trial(label, n, u.name);
  const std::optional<Dataset> context = r.open("context", false);
  if (context) r.check_per_trial(*context, n, u.name);
  const std::optional<Dataset> coherence = r.open("coherence", false);
  if (coherence &&
      (coherence->shape.size() != 2 || coherence->shape[1] != 2 || coherence->shape[0] != n)) {
    fail(path, fmt::format("{} has shape {} but must be trials x 2 ({}x2): the signed strength "
                           "of stimulus 1 and 2",
                           coherence->name, shape_text(coherence->shape), n));
  }
  const std::optional<Dataset> split = r.open("split", false);
  if (split) r.check_per_trial(*split, n, u.name);
  return {u, label, context, coherence, split};
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TrialsFile TrialsFile::load(const std::string& path, const TrialsFileOptions& options) {
  return detail::read_isolated(path, /*user_input=*/true, [&] { return load_here(path, options); });
}

TrialsFile TrialsFile::load_here(const std::string& path, const TrialsFileOptions& options) {
  detail::silence_hdf5();
  TrialsFile out;
  out.path_ = path;
  std::string reading = "the file";  // what was being read, for an HDF5 error's message
  try {
    const H5::H5File file = detail::open_hdf5_for_reading(path, /*user_input=*/true);
    const H5::Group root = file.openGroup("/");
    // An eval.h5 keeps its trials under /trials; a file made for lrnn has them at the root.
    H5::Group group = root;
    if (!root.nameExists("u") && root.nameExists("trials") &&
        root.childObjType("trials") == H5O_TYPE_GROUP) {
      group = root.openGroup("trials");
      out.prefix_ = "/trials";
    }
    if (!group.nameExists("u")) {
      fail(path,
           "/u is missing (nor is there a /trials/u): a trials file holds /u "
           "(trials x K x d_in) and /label (trials)");
    }
    const Reader r(path, group, out.prefix_);

    // Shapes of everything first, so a bad file fails before a large read.
    const Layout layout = check_layout(path, r);
    const Dataset& u = layout.u;
    const Dataset& label = layout.label;
    const std::optional<Dataset>& context = layout.context;
    const std::optional<Dataset>& coherence = layout.coherence;
    const std::optional<Dataset>& split = layout.split;
    const hsize_t n = u.shape[0];

    out.n_trials_ = static_cast<std::int64_t>(n);
    out.K_ = static_cast<Index>(u.shape[1]);
    out.d_in_ = static_cast<Index>(u.shape[2]);
    const std::size_t count = checked_count(path, u.name, u.shape);
    const bool as_float = u.cls == H5T_FLOAT && u.ds.getFloatType().getSize() == sizeof(float);
    reading = u.name;
    if (as_float) {
      read_u(path, u, count, out.u_float_);
      check_finite_u(path, u.name, out.u_float_, out.K_, out.d_in_);
    } else {
      read_u(path, u, count, out.u_double_);
      check_finite_u(path, u.name, out.u_double_, out.K_, out.d_in_);
    }

    reading = label.name;
    out.label_ = r.read_doubles(label);
    check_labels(path, label.name, out.label_, options.label_type);

    if (context) {
      reading = context->name;
      out.context_ =
          to_codes(path, context->name, r.read_doubles(*context), 0, 2, "1 or 2 (0 = unknown)");
    }
    if (coherence) {
      reading = coherence->name;
      out.coherence_ = r.read_doubles(*coherence);
      check_finite_coherence(path, coherence->name, out.coherence_);
    }
    if (split) {
      reading = split->name;
      out.split_of_ = to_codes(path, split->name, r.read_doubles(*split), 0, 2,
                               "0 (train), 1 (validation) or 2 (test)");
      out.has_split_ = true;
    }
  } catch (const H5::Exception& e) {
    fail(path, "cannot read " + reading + h5_detail(e));
  }
  out.assign_splits(options.n_val);
  return out;
}

TrialsFile TrialsFile::from_arrays(TrialArrays a, const TrialsFileOptions& options) {
  const std::string& path = a.source;
  if (a.n_trials < 1 || a.K < 1 || a.d_in < 1) {
    fail(path, fmt::format("u has shape ({}, {}, {}) but must be trials x K x d_in, each >= 1",
                           a.n_trials, a.K, a.d_in));
  }
  TrialsFile out;
  out.path_ = path;
  out.n_trials_ = a.n_trials;
  out.K_ = a.K;
  out.d_in_ = a.d_in;
  const std::int64_t n = a.n_trials;
  const std::string u_shape = fmt::format("{} x {} x {}", n, a.K, a.d_in);
  const std::int64_t u_size = n * a.K * a.d_in;
  if (!a.u_float.empty() || a.u_double.empty()) {
    check_size(path, "u", a.u_float.size(), u_size, u_shape);
    out.u_float_ = std::move(a.u_float);
    check_finite_u(path, "u", out.u_float_, a.K, a.d_in);
  } else {
    check_size(path, "u", a.u_double.size(), u_size, u_shape);
    out.u_double_ = std::move(a.u_double);
    check_finite_u(path, "u", out.u_double_, a.K, a.d_in);
  }
  check_size(path, "label", a.label.size(), n, "trials");
  out.label_ = std::move(a.label);
  check_labels(path, "label", out.label_, options.label_type);
  if (!a.context.empty()) {
    check_size(path, "context", a.context.size(), n, "trials");
    out.context_ = to_codes(path, "context", a.context, 0, 2, "1 or 2 (0 = unknown)");
  }
  if (!a.coherence.empty()) {
    check_size(path, "coherence", a.coherence.size(), 2 * n, "trials x 2");
    out.coherence_ = std::move(a.coherence);
    check_finite_coherence(path, "coherence", out.coherence_);
  }
  if (!a.split.empty()) {
    check_size(path, "split", a.split.size(), n, "trials");
    out.split_of_ = to_codes(path, "split", a.split, 0, 2, "0 (train), 1 (validation) or 2 (test)");
    out.has_split_ = true;
  }
  out.assign_splits(options.n_val);
  return out;
}

void TrialsFile::set_n_val(std::int64_t n_val) { assign_splits(n_val); }

void TrialsFile::assign_splits(std::int64_t n_val) {
  for (auto& m : members_) m.clear();
  if (has_split_) {
    for (std::int64_t i = 0; i < n_trials_; ++i) {
      members_[static_cast<std::size_t>(split_of_[static_cast<std::size_t>(i)])].push_back(i);
    }
    return;
  }
  if (n_val < 0) fail(path_, fmt::format("n_val = {} must be >= 0", n_val));
  if (n_val >= n_trials_) {
    fail(path_, fmt::format("training.n_val_trials = {} must be less than the file's {} trials "
                            "(without /split the last n_val_trials validate and the others train)",
                            n_val, n_trials_));
  }
  const std::int64_t n_train = n_trials_ - n_val;
  auto& train = members_[static_cast<std::size_t>(Split::kTrain)];
  auto& val = members_[static_cast<std::size_t>(Split::kValidation)];
  auto& test = members_[static_cast<std::size_t>(Split::kTest)];
  for (std::int64_t i = 0; i < n_trials_; ++i) {
    (i < n_train ? train : val).push_back(i);
    test.push_back(i);
  }
}

std::int64_t TrialsFile::size(Split split) const {
  return static_cast<std::int64_t>(members_[static_cast<std::size_t>(split)].size());
}

std::int64_t TrialsFile::file_index(Split split, std::int64_t index) const {
  const auto& m = members_[static_cast<std::size_t>(split)];
  if (index < 0 || index >= static_cast<std::int64_t>(m.size())) {
    throw std::out_of_range(fmt::format("{}: trial {} of the {} split is out of range [0, {})",
                                        path_, index, to_string(split), m.size()));
  }
  return m[static_cast<std::size_t>(index)];
}

int TrialsFile::condition(Split split, std::int64_t index) const {
  const auto f = static_cast<std::size_t>(file_index(split, index));
  if (context_.empty() || coherence_.empty()) return 0;
  const int ctx = context_[f];
  if (ctx != 1 && ctx != 2) return 8;
  return (ctx - 1) * 4 + (coherence_[2 * f] > 0.0) * 2 + (coherence_[2 * f + 1] > 0.0);
}

template <typename Scalar>
void TrialsFile::fill_impl(Split split, const std::int64_t* indices, Index count,
                           TrialBatch<Scalar>& out) const {
  // Resolve every index before touching `out`, so an out-of-range index leaves it as it was.
  std::vector<std::int64_t> rows(static_cast<std::size_t>(count));
  for (Index j = 0; j < count; ++j)
    rows[static_cast<std::size_t>(j)] = file_index(split, indices[j]);
  if (out.n_trials != count || out.n_steps != K_ || out.d_in != d_in_) out.resize(count, K_, d_in_);
  const auto step = static_cast<std::size_t>(K_ * d_in_);
  for (Index j = 0; j < count; ++j) {
    const auto f = static_cast<std::size_t>(rows[static_cast<std::size_t>(j)]);
    const auto copy = [&](const auto* src) {
      for (Index k = 0; k < K_; ++k) {
        for (Index c = 0; c < d_in_; ++c) {
          out.u(c, k * count + j) = static_cast<Scalar>(src[k * d_in_ + c]);
        }
      }
    };
    if (!u_float_.empty()) {
      copy(u_float_.data() + f * step);
    } else {
      copy(u_double_.data() + f * step);
    }
    out.target[j] = static_cast<Scalar>(label_[f]);
    out.context[static_cast<std::size_t>(j)] = context_.empty() ? 0 : context_[f];
    out.coherence(0, j) = coherence_.empty() ? 0.0 : coherence_[2 * f];
    out.coherence(1, j) = coherence_.empty() ? 0.0 : coherence_[2 * f + 1];
    out.index[static_cast<std::size_t>(j)] = indices[j];
  }
}

template void TrialsFile::fill_impl(Split, const std::int64_t*, Index, TrialBatch<float>&) const;
template void TrialsFile::fill_impl(Split, const std::int64_t*, Index, TrialBatch<double>&) const;

// ---------------------------------------------------------------------------------------------

void write_trials_file(const std::string& path, const TrialBatch<double>& trials,
                       const std::vector<int>* split) {
  const Index B = trials.n_trials;
  if (B < 1 || trials.n_steps < 1 || trials.d_in < 1) {
    throw std::invalid_argument(fmt::format(
        "write_trials_file {}: the batch has {} trials of {} steps and {} channels; each must be "
        ">= 1",
        path, B, trials.n_steps, trials.d_in));
  }
  const auto n = static_cast<std::size_t>(B);
  if (trials.u.rows() != trials.d_in || trials.u.cols() != trials.n_steps * B ||
      trials.target.size() != B || trials.context.size() != n || trials.coherence.rows() != 2 ||
      trials.coherence.cols() != B) {
    throw std::invalid_argument("write_trials_file " + path +
                                ": the batch's arrays do not match its n_trials, n_steps, d_in");
  }
  if (split != nullptr) {
    if (split->size() != n) {
      throw std::invalid_argument(fmt::format("write_trials_file {}: {} split values for {} trials",
                                              path, split->size(), B));
    }
    for (int s : *split) {
      if (s < 0 || s > 2) {
        throw std::invalid_argument(fmt::format(
            "write_trials_file {}: split value {} must be 0 (train), 1 (validation) or 2 (test)",
            path, s));
      }
    }
  }

  detail::write_atomically(path, [&](H5::H5File& file) { write_hdf5(file, trials, split); });
}

}  // namespace lrnn
