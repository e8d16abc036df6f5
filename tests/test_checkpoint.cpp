#include <H5Cpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "io/dataset_checksum.hpp"
#include "io/hdf5_file.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/core/read_isolation.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "support/checkpoint_edits.hpp"
#include "support/files.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;

// Small but with N, R and d_in all different, so a transposed or mis-sized dataset cannot pass.
constexpr Dims kDims{7, 3, 4};

// Newlines, quotes and multi-byte UTF-8 (κ, τ, —, ✓) must survive the attribute unchanged.
const std::string kConfigYaml =
    "rnn:\n  N: 7\n  R: 3\n  tau: 1.5  # \xCE\xBA and \xCF\x84 \xE2\x80\x94 ok \xE2\x9C\x93\n"
    "output:\n  dir: \"runs/x\"\n";

// Values with long binary expansions, so any float<->double round trip on the way is visible.
template <typename Scalar>
Scalar value_at(Index k, double phase) {
  return static_cast<Scalar>(std::sin(0.37 * static_cast<double>(k) + phase) / 3.0);
}

template <typename Scalar>
Network<Scalar> make_network(Dims dims = kDims) {
  Network<Scalar> net;
  net.theta = Params<Scalar>(dims);
  for (Index k = 0; k < net.theta.flat().size(); ++k)
    net.theta.flat()[k] = value_at<Scalar>(k, 0.1);
  net.C.resize(dims.N, dims.N);
  for (Index k = 0; k < net.C.size(); ++k) net.C.data()[k] = value_at<Scalar>(k, 1.3);
  net.g = 0.8;
  net.tau = 1.5;
  return net;
}

template <typename Scalar>
AdamState<Scalar> make_adam(Dims dims = kDims) {
  AdamState<Scalar> adam(ParamLayout(dims).total());
  for (Index k = 0; k < adam.m.size(); ++k) {
    adam.m[k] = value_at<Scalar>(k, 2.1);
    adam.v[k] = value_at<Scalar>(k, 2.9) * value_at<Scalar>(k, 2.9);
  }
  adam.step = 123;
  return adam;
}

CheckpointMeta make_meta(Precision precision) {
  CheckpointMeta meta;
  meta.step = 123;
  meta.seed = 0xFEDCBA9876543210ULL;  // high bit set: must not pass through a signed type
  meta.precision = precision;
  meta.config_yaml = kConfigYaml;
  meta.best_val_loss = 0.0123456789;
  meta.best_step = 100;
  meta.nan_skips = 3;
  meta.nan_skips_in_a_row = 2;
  return meta;
}

template <typename Scalar>
Precision precision_of() {
  return std::is_same_v<Scalar, float> ? Precision::kFloat32 : Precision::kFloat64;
}

template <typename Scalar>
void save_default(const std::string& path) {
  save_checkpoint(path, make_network<Scalar>(), make_adam<Scalar>(),
                  make_meta(precision_of<Scalar>()));
}

template <typename Derived, typename Other>
bool bit_equal(const Eigen::MatrixBase<Derived>& a, const Eigen::MatrixBase<Other>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && (a.array() == b.array()).all();
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = fs::temp_directory_path() / ("lrnn_ckpt_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(counter++) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  fs::path dir_;
};

template <typename Scalar>
class CheckpointRoundTrip : public CheckpointTest {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CheckpointRoundTrip, Scalars);

TYPED_TEST(CheckpointRoundTrip, RestoresEveryValueBitExactly) {
  using Scalar = TypeParam;
  const std::string path = this->file("ckpt.h5");
  const Network<Scalar> net = make_network<Scalar>();
  const AdamState<Scalar> adam = make_adam<Scalar>();
  const CheckpointMeta meta = make_meta(precision_of<Scalar>());
  save_checkpoint(path, net, adam, meta);

  const LoadedCheckpoint<Scalar> loaded = load_checkpoint<Scalar>(path);
  EXPECT_EQ(loaded.net.dims(), kDims);
  EXPECT_TRUE(bit_equal(loaded.net.theta.flat(), net.theta.flat()));
  EXPECT_TRUE(bit_equal(loaded.net.C, net.C));
  EXPECT_EQ(loaded.net.g, net.g);
  EXPECT_EQ(loaded.net.tau, net.tau);
  EXPECT_TRUE(bit_equal(loaded.adam.m, adam.m));
  EXPECT_TRUE(bit_equal(loaded.adam.v, adam.v));
  EXPECT_EQ(loaded.adam.step, 123);

  const CheckpointInfo& info = loaded.info;
  EXPECT_EQ(info.format_version, kCheckpointFormatVersion);
  EXPECT_EQ(info.dims, kDims);
  EXPECT_EQ(info.g, 0.8);
  EXPECT_EQ(info.tau, 1.5);
  EXPECT_EQ(info.meta.step, meta.step);
  EXPECT_EQ(info.meta.seed, meta.seed);
  EXPECT_EQ(info.meta.precision, precision_of<Scalar>());
  EXPECT_EQ(info.meta.config_yaml, kConfigYaml);
  EXPECT_EQ(info.meta.best_val_loss, meta.best_val_loss);
  EXPECT_EQ(info.meta.best_step, meta.best_step);
  EXPECT_EQ(info.meta.nan_skips, meta.nan_skips);
  EXPECT_EQ(info.meta.nan_skips_in_a_row, meta.nan_skips_in_a_row);
}

TYPED_TEST(CheckpointRoundTrip, InfoMatchesWithoutLoadingArrays) {
  using Scalar = TypeParam;
  const std::string path = this->file("ckpt.h5");
  CheckpointMeta meta = make_meta(precision_of<Scalar>());
  meta.config_yaml.clear();  // an empty variable-length string is a separate HDF5 code path
  meta.best_val_loss = std::numeric_limits<double>::infinity();
  meta.best_step = -1;
  save_checkpoint(path, make_network<Scalar>(), make_adam<Scalar>(), meta);

  const CheckpointInfo info = read_checkpoint_info(path);
  EXPECT_EQ(info.dims, kDims);
  EXPECT_EQ(info.meta.config_yaml, "");
  EXPECT_EQ(info.meta.best_val_loss, std::numeric_limits<double>::infinity());
  EXPECT_EQ(info.meta.best_step, -1);
  EXPECT_EQ(info.meta.precision, precision_of<Scalar>());
}

TEST_F(CheckpointTest, LoadConvertsBetweenPrecisions) {
  const std::string path64 = file("double.h5");
  const Network<double> net64 = make_network<double>();
  save_checkpoint(path64, net64, make_adam<double>(), make_meta(Precision::kFloat64));
  const LoadedCheckpoint<float> as_float = load_checkpoint<float>(path64);
  EXPECT_TRUE(bit_equal(as_float.net.theta.flat(), net64.theta.flat().cast<float>()));
  EXPECT_TRUE(bit_equal(as_float.net.C, net64.C.cast<float>()));

  const std::string path32 = file("float.h5");
  const Network<float> net32 = make_network<float>();
  save_checkpoint(path32, net32, make_adam<float>(), make_meta(Precision::kFloat32));
  const LoadedCheckpoint<double> as_double = load_checkpoint<double>(path32);
  EXPECT_TRUE(bit_equal(as_double.net.theta.flat(), net32.theta.flat().cast<double>()));
  EXPECT_TRUE(bit_equal(as_double.adam.v, make_adam<float>().v.cast<double>()));
}

std::vector<hsize_t> shape_of(const H5::DataSet& ds) {
  const H5::DataSpace space = ds.getSpace();
  std::vector<hsize_t> dims(static_cast<std::size_t>(space.getSimpleExtentNdims()));
  space.getSimpleExtentDims(dims.data());
  return dims;
}

TEST_F(CheckpointTest, LayoutIsRowMajorAsH5pyShowsIt) {
  const std::string path = file("ckpt.h5");
  const Network<float> net = make_network<float>();
  save_checkpoint(path, net, make_adam<float>(), make_meta(Precision::kFloat32));

  const auto n = static_cast<hsize_t>(kDims.N);
  const auto r = static_cast<hsize_t>(kDims.R);
  H5::H5File h5(path, H5F_ACC_RDONLY);
  const H5::DataSet m_set = h5.openDataSet("/params/M");
  ASSERT_EQ(shape_of(m_set), (std::vector<hsize_t>{n, r}));
  EXPECT_TRUE(m_set.getDataType() == H5::PredType::NATIVE_FLOAT);
  std::vector<float> m(n * r);
  m_set.read(m.data(), H5::PredType::NATIVE_FLOAT);
  for (Index i = 0; i < kDims.N; ++i) {
    for (Index j = 0; j < kDims.R; ++j) {
      EXPECT_EQ(m[static_cast<std::size_t>(i * kDims.R + j)], net.theta.M()(i, j))
          << "M[" << i << "][" << j << "]";
    }
  }

  EXPECT_EQ(shape_of(h5.openDataSet("/params/B")),
            (std::vector<hsize_t>{n, static_cast<hsize_t>(kDims.d_in)}));
  EXPECT_EQ(shape_of(h5.openDataSet("/params/w")), (std::vector<hsize_t>{n}));
  EXPECT_EQ(shape_of(h5.openDataSet("/optimizer/v/n")), (std::vector<hsize_t>{n, r}));
  EXPECT_EQ(h5.openDataSet("/params/b").getSpace().getSimpleExtentType(), H5S_SCALAR);
  EXPECT_EQ(h5.openDataSet("/optimizer/step").getSpace().getSimpleExtentType(), H5S_SCALAR);

  // C is not symmetric, so C[1][2] vs C(2, 1) tells whether it was transposed.
  const H5::DataSet c_set = h5.openDataSet("/fixed/C");
  ASSERT_EQ(shape_of(c_set), (std::vector<hsize_t>{n, n}));
  std::vector<double> c(n * n);
  c_set.read(c.data(), H5::PredType::NATIVE_DOUBLE);
  ASSERT_NE(net.C(1, 2), net.C(2, 1));
  EXPECT_EQ(c[1 * n + 2], static_cast<double>(net.C(1, 2)));

  std::int64_t n_attr = 0;
  h5.openAttribute("N").read(H5::PredType::NATIVE_INT64, &n_attr);
  EXPECT_EQ(n_attr, kDims.N);
  EXPECT_EQ(h5.openAttribute("config_yaml").getTypeClass(), H5T_STRING);
}

TEST_F(CheckpointTest, DoubleCheckpointStoresFloat64) {
  const std::string path = file("ckpt.h5");
  save_default<double>(path);
  H5::H5File h5(path, H5F_ACC_RDONLY);
  EXPECT_TRUE(h5.openDataSet("/params/n").getDataType() == H5::PredType::NATIVE_DOUBLE);
  EXPECT_TRUE(h5.openDataSet("/fixed/C").getDataType() == H5::PredType::NATIVE_DOUBLE);
}

// The python3 on PATH may be a virtualenv without h5py while the system one has it.
std::string python_with_h5py() {
  for (const std::string python : {"python3", "/usr/bin/python3"}) {
    if (std::system((python + " -c 'import h5py' >/dev/null 2>&1").c_str()) == 0) return python;
  }
  return {};
}

TEST_F(CheckpointTest, H5pyReadsShapesValuesAndStrings) {
  const std::string python = python_with_h5py();
  if (python.empty()) GTEST_SKIP() << "python3 with h5py not available";

  const std::string path = file("ckpt.h5");
  const Network<float> net = make_network<float>();
  save_checkpoint(path, net, make_adam<float>(), make_meta(Precision::kFloat32));
  write_bytes(file("expected.yaml"), kConfigYaml);

  char m_21[64];
  std::snprintf(m_21, sizeof m_21, "%.9g", static_cast<double>(net.theta.M()(2, 1)));
  const std::string script =
      "import sys, h5py, numpy as np\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "assert f['params/M'].shape == (7, 3), f['params/M'].shape\n"
      "assert f['params/M'].dtype == np.float32\n"
      "assert f['params/M'][2, 1] == np.float32(" +
      std::string(m_21) +
      ")\n"
      "assert f['params/B'].shape == (7, 4)\n"
      "assert f['params/w'].shape == (7,)\n"
      "assert f['params/b'].shape == ()\n"
      "assert f['fixed/C'].shape == (7, 7)\n"
      "assert f['optimizer/m/M'].shape == (7, 3)\n"
      "assert int(f['optimizer/step'][()]) == 123\n"
      "cfg = f.attrs['config_yaml']\n"
      "assert isinstance(cfg, str), type(cfg)\n"
      "assert cfg == open(sys.argv[2], encoding='utf-8').read()\n"
      "assert f.attrs['precision'] == 'float32'\n"
      "assert f.attrs['lrnn_version'] == '0.1.0'\n"
      "assert int(f.attrs['N']) == 7 and int(f.attrs['format_version']) == 1\n"
      "assert int(f.attrs['seed']) == 0xFEDCBA9876543210\n";
  write_bytes(file("check.py"), script);
  const std::string command =
      python + " " + file("check.py") + " " + path + " " + file("expected.yaml");
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

TEST_F(CheckpointTest, MissingFileIsNamed) {
  const std::string path = file("absent.h5");
  try {
    read_checkpoint_info(path);
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": no such file");
  }
  EXPECT_THROW(load_checkpoint<double>(path), IoError);
}

TEST_F(CheckpointTest, TextFileIsNotHdf5) {
  const std::string path = file("notes.h5");
  write_bytes(path, "rnn:\n  N: 500\nthis is not HDF5\n");
  try {
    load_checkpoint<float>(path);
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": not an HDF5 file");
  }
  EXPECT_THROW(read_checkpoint_info(dir_.string()), IoError);  // a directory
}

TEST_F(CheckpointTest, TruncatedFilesThrowIoError) {
  const std::string good = file("good.h5");
  save_default<double>(good);
  const std::string bytes = read_bytes(good);
  ASSERT_GT(bytes.size(), 1000u);

  for (const std::size_t length :
       {std::size_t{0}, std::size_t{8}, std::size_t{100}, std::size_t{512}, bytes.size() / 2,
        bytes.size() - 16, bytes.size() - 1}) {
    SCOPED_TRACE("length " + std::to_string(length));
    const std::string path = file("cut_" + std::to_string(length) + ".h5");
    write_bytes(path, bytes.substr(0, length));
    EXPECT_THROW(read_checkpoint_info(path), IoError);
    EXPECT_THROW(load_checkpoint<double>(path), IoError);
  }
}

// Reopens a valid checkpoint with the raw API to break one thing in it.
class EditedCheckpointTest : public CheckpointTest {
 protected:
  void SetUp() override {
    CheckpointTest::SetUp();
    path_ = file("edited.h5");
    save_default<float>(path_);
  }

  template <typename T>
  void set_attribute(const char* name, const H5::PredType& type, T value) {
    H5::H5File h5(path_, H5F_ACC_RDWR);
    if (h5.attrExists(name)) h5.removeAttr(name);
    h5.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, &value);
  }

  std::string load_error() {
    try {
      load_checkpoint<float>(path_);
    } catch (const IoError& e) {
      return e.what();
    }
    return "no exception";
  }

  std::string path_;
};

TEST_F(EditedCheckpointTest, NewerFormatVersionIsRefused) {
  set_attribute("format_version", H5::PredType::NATIVE_INT, 7);
  try {
    read_checkpoint_info(path_);
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()),
              path_ + ": format_version 7 is newer than this lrnn supports (1)");
  }
  EXPECT_EQ(load_error(), path_ + ": format_version 7 is newer than this lrnn supports (1)");
}

TEST_F(EditedCheckpointTest, FormatVersionZeroIsRefused) {
  set_attribute("format_version", H5::PredType::NATIVE_INT, 0);
  EXPECT_TRUE(contains(load_error(), "format_version 0 is invalid"));
}

TEST_F(EditedCheckpointTest, NanSkipsInARowIsOptionalAndChecked) {
  {
    H5::H5File h5(path_, H5F_ACC_RDWR);
    h5.removeAttr("nan_skips_in_a_row");  // as in files written before it existed
  }
  EXPECT_EQ(read_checkpoint_info(path_).meta.nan_skips_in_a_row, 0);
  set_attribute("nan_skips_in_a_row", H5::PredType::NATIVE_INT64, std::int64_t{4});
  EXPECT_EQ(load_error(), path_ + ": attribute nan_skips_in_a_row is 4, not in [0, nan_skips = 3]");
}

TEST_F(EditedCheckpointTest, WrongShapeNamesDatasetAndShapes) {
  {
    H5::H5File h5(path_, H5F_ACC_RDWR);
    H5::Group params = h5.openGroup("params");
    params.unlink("M");
    const hsize_t dims[2] = {7, 4};
    params.createDataSet("M", H5::PredType::NATIVE_FLOAT, H5::DataSpace(2, dims));
  }
  EXPECT_EQ(load_error(), path_ + ": dataset /params/M has shape 7x4, expected 7x3");
  EXPECT_NO_THROW(read_checkpoint_info(path_));  // attributes alone are still fine
}

TEST_F(EditedCheckpointTest, TransposedMatrixIsRefused) {
  {
    H5::H5File h5(path_, H5F_ACC_RDWR);
    H5::Group m = h5.openGroup("optimizer").openGroup("m");
    m.unlink("B");
    const hsize_t dims[2] = {4, 7};
    m.createDataSet("B", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(2, dims));
  }
  EXPECT_EQ(load_error(), path_ + ": dataset /optimizer/m/B has shape 4x7, expected 7x4");
}

TEST_F(EditedCheckpointTest, BiasMustBeScalar) {
  {
    H5::H5File h5(path_, H5F_ACC_RDWR);
    H5::Group params = h5.openGroup("params");
    params.unlink("b");
    const hsize_t dims[1] = {1};
    params.createDataSet("b", H5::PredType::NATIVE_FLOAT, H5::DataSpace(1, dims));
  }
  EXPECT_EQ(load_error(), path_ + ": dataset /params/b has shape 1, expected scalar");
}

TEST_F(EditedCheckpointTest, MissingDatasetIsNamed) {
  {
    H5::H5File h5(path_, H5F_ACC_RDWR);
    h5.openGroup("optimizer").openGroup("v").unlink("w");
  }
  EXPECT_EQ(load_error(), path_ + ": dataset /optimizer/v/w is missing");
}

TEST_F(EditedCheckpointTest, MissingAttributeIsNamed) {
  {
    H5::H5File h5(path_, H5F_ACC_RDWR);
    h5.removeAttr("seed");
  }
  EXPECT_EQ(load_error(), path_ + ": attribute seed is missing");
  EXPECT_THROW(read_checkpoint_info(path_), IoError);
}

TEST_F(EditedCheckpointTest, AttributeShapeMismatchIsRefused) {
  set_attribute("N", H5::PredType::NATIVE_INT64, std::int64_t{8});
  EXPECT_EQ(load_error(), path_ + ": dataset /params/M has shape 7x3, expected 8x3");
}

TEST_F(EditedCheckpointTest, UnknownPrecisionIsRefused) {
  {
    H5::H5File h5(path_, H5F_ACC_RDWR);
    h5.removeAttr("precision");
    const H5::StrType type(H5::PredType::C_S1, 7);
    h5.createAttribute("precision", type, H5::DataSpace(H5S_SCALAR))
        .write(type, std::string("float16"));
  }
  EXPECT_EQ(load_error(),
            path_ + ": attribute precision is 'float16', expected float32, float64 or bf16");
}

TEST_F(CheckpointTest, NonFiniteParametersAreRefused) {
  const std::string path = file("nan.h5");
  Network<double> net = make_network<double>();
  net.theta.w()[2] = std::numeric_limits<double>::quiet_NaN();
  save_checkpoint(path, net, make_adam<double>(), make_meta(Precision::kFloat64));
  try {
    load_checkpoint<double>(path);
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": /params/w holds NaN or Inf");
  }
  EXPECT_NO_THROW(read_checkpoint_info(path));

  Network<double> net_c = make_network<double>();
  net_c.C(3, 4) = -std::numeric_limits<double>::infinity();
  save_checkpoint(path, net_c, make_adam<double>(), make_meta(Precision::kFloat64));
  try {
    load_checkpoint<float>(path);
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": /fixed/C holds NaN or Inf");
  }
}

TEST_F(CheckpointTest, SaveIntoMissingDirectoryThrowsAndCreatesNothing) {
  const fs::path missing = dir_ / "no_such_dir";
  const std::string path = (missing / "ckpt.h5").string();
  try {
    save_default<float>(path);
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_TRUE(contains(std::string(e.what()), path + ": "));
  }
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_TRUE(listing().empty());
}

TEST_F(CheckpointTest, SaveOverExistingReplacesItAndLeavesNoTemporary) {
  const std::string path = file("best.h5");
  save_default<float>(path);

  Network<float> net = make_network<float>();
  net.theta.b() = 42.0f;
  CheckpointMeta meta = make_meta(Precision::kFloat32);
  meta.step = 999;
  save_checkpoint(path, net, make_adam<float>(), meta);

  const LoadedCheckpoint<float> loaded = load_checkpoint<float>(path);
  EXPECT_EQ(loaded.net.theta.b(), 42.0f);
  EXPECT_EQ(loaded.info.meta.step, 999);
  EXPECT_EQ(listing(), std::vector<std::string>{"best.h5"});
}

TEST_F(CheckpointTest, FailedRenameKeepsOldContentAndRemovesTemporary) {
  // Running as root defeats read-only directories, but rename() of a file over a non-empty
  // directory fails for everyone.
  const fs::path target = dir_ / "final.h5";
  fs::create_directory(target);
  write_bytes((target / "keep.txt").string(), "old content");

  try {
    save_default<double>(target.string());
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_TRUE(contains(std::string(e.what()), target.string() + ": cannot rename"));
  }
  EXPECT_TRUE(fs::is_directory(target));
  EXPECT_EQ(read_bytes((target / "keep.txt").string()), "old content");
  EXPECT_EQ(listing(), std::vector<std::string>{"final.h5"});
}

TEST_F(CheckpointTest, MismatchedAdamStateIsRefusedBeforeWriting) {
  const std::string path = file("ckpt.h5");
  EXPECT_THROW(save_checkpoint(path, make_network<float>(), AdamState<float>(3),
                               make_meta(Precision::kFloat32)),
               IoError);
  EXPECT_TRUE(listing().empty());
}

// ---------------------------------------------------------------------------------------------
// Checksums (io/dataset_checksum.hpp)

// Every reader of a checkpoint's config (lrnn-train --resume, lrnn-eval, lrnn-inspect, the sweep's
// resume) goes through stored_config, so a bad stored config is named the same way everywhere.
TEST(StoredConfig, ParsesTheStoredYamlAndNamesOneLabelWhenItDoesNot) {
  CheckpointMeta meta;
  Config expected;
  expected.rnn.N = 24;
  expected.training.seed = 5;
  meta.config_yaml = to_yaml(expected);
  EXPECT_EQ(to_yaml(stored_config(meta, "run/final.h5")), meta.config_yaml);
  EXPECT_EQ(stored_config_label("run/final.h5"), "run/final.h5:/config_yaml");

  struct Case {
    std::string yaml, expect;
  };
  for (const Case& c :
       std::vector<Case>{{"rnn:\n  N: [24\n", "run/final.h5:/config_yaml:"},
                         {"rnn:\n  N: 24\n  R: 0\n", "run/final.h5:/config_yaml:3"},
                         {"training:\n  no_such_key: 1\n", "run/final.h5:/config_yaml:2"}}) {
    meta.config_yaml = c.yaml;
    try {
      stored_config(meta, "run/final.h5");
      ADD_FAILURE() << "accepted: " << c.yaml;
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("the config stored in the checkpoint does not load: " + c.expect, 0), 0u)
          << what;
    }
  }
}

TEST(DatasetChecksum, IsZlibsCrc32) {
  // The check value of CRC-32 (IEEE 802.3, zlib's): the CRC of the nine ASCII digits.
  EXPECT_EQ(detail::crc32_of("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(detail::crc32_of(nullptr, 0), 0u);
}

/// The CRC-32 of the dataset's elements read in their stored type, computed here with zlib.
std::uint32_t stored_crc(const H5::DataSet& ds) {
  const H5::DataType type = ds.getDataType();
  const auto count = static_cast<std::size_t>(ds.getSpace().getSimpleExtentNpoints());
  std::vector<unsigned char> bytes(count * type.getSize());
  ds.read(bytes.data(), type);
  return static_cast<std::uint32_t>(
      ::crc32(::crc32(0L, Z_NULL, 0), bytes.data(), static_cast<uInt>(bytes.size())));
}

TEST_F(CheckpointTest, EveryDatasetCarriesTheCrc32OfItsStoredBytes) {
  for (const bool dbl : {false, true}) {
    SCOPED_TRACE(dbl ? "float64" : "float32");
    const std::string path = file(dbl ? "f64.h5" : "f32.h5");
    if (dbl) {
      save_default<double>(path);
    } else {
      save_default<float>(path);
    }
    {
      const H5::H5File h5(path, H5F_ACC_RDONLY);
      for (const std::string& name : test::checkpoint_datasets()) {
        SCOPED_TRACE(name);
        const H5::DataSet ds = h5.openDataSet(name);
        ASSERT_TRUE(ds.attrExists("crc32"));
        const H5::Attribute attr = ds.openAttribute("crc32");
        EXPECT_TRUE(attr.getDataType() == H5::PredType::NATIVE_UINT32);
        std::uint32_t crc = 0;
        attr.read(H5::PredType::NATIVE_UINT32, &crc);
        EXPECT_EQ(crc, stored_crc(ds));
      }
    }
    EXPECT_TRUE(load_checkpoint<float>(path).unverified.empty());
  }
}

TEST_F(CheckpointTest, AFlippedBitInAnyDatasetIsRefusedNamingIt) {
  const std::string good = file("good.h5");
  save_default<float>(good);
  const std::string bytes = read_bytes(good);
  const std::string path = file("flipped.h5");
  int cases = 0;
  for (const std::string& name : test::checkpoint_datasets()) {
    const std::uint64_t size = test::data_extent(good, name).size;
    // The first and the last bit, and one in the middle: sign, exponent and mantissa bits of
    // the floats, the low and the high byte of /optimizer/step.
    for (const auto& [byte, bit] :
         {std::pair<std::uint64_t, int>{0, 0}, {size / 2, 3}, {size - 1, 7}}) {
      SCOPED_TRACE(name + " byte " + std::to_string(byte) + " bit " + std::to_string(bit));
      write_bytes(path, bytes);
      test::flip_bit(path, name, byte, bit);
      ASSERT_NE(read_bytes(path), bytes);
      try {
        load_checkpoint<float>(path);
        ADD_FAILURE() << "loaded";
      } catch (const IoError& e) {
        const std::string what = e.what();
        EXPECT_TRUE(contains(what, path + ": dataset " + name + " fails its checksum (crc32 "));
        EXPECT_TRUE(contains(what, "the file is corrupt, or was changed by another program"));
        EXPECT_EQ(what.find('\n'), std::string::npos);
      }
      EXPECT_NO_THROW(read_checkpoint_info(path));  // the attributes are intact
      ++cases;
    }
  }
  EXPECT_EQ(cases, 17 * 3);
}

TEST_F(CheckpointTest, AChangedChecksumIsRefusedToo) {
  const std::string path = file("ckpt.h5");
  save_default<double>(path);
  {
    H5::H5File h5(path, H5F_ACC_RDWR);
    H5::Attribute attr = h5.openDataSet("/params/b").openAttribute("crc32");
    std::uint32_t crc = 0;
    attr.read(H5::PredType::NATIVE_UINT32, &crc);
    crc ^= 1u << 20;
    attr.write(H5::PredType::NATIVE_UINT32, &crc);
  }
  EXPECT_THROW(
      {
        try {
          load_checkpoint<double>(path);
        } catch (const IoError& e) {
          EXPECT_TRUE(contains(e.what(), "dataset /params/b fails its checksum"));
          throw;
        }
      },
      IoError);
}

/// Captures what lrnn logs through spdlog's default logger while alive.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() const { return text_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

TEST_F(CheckpointTest, FilesWithoutChecksumsLoadUnverifiedWithANote) {
  const std::string path = file("old.h5");
  save_default<float>(path);
  const LoadedCheckpoint<float> checked = load_checkpoint<float>(path);
  test::strip_checksums(path);
  {
    LogCapture log;
    const LoadedCheckpoint<float> old = load_checkpoint<float>(path);
    EXPECT_EQ(old.unverified, test::checkpoint_datasets());
    EXPECT_TRUE(bit_equal(old.net.theta.flat(), checked.net.theta.flat()));
    EXPECT_TRUE(bit_equal(old.net.C, checked.net.C));
    EXPECT_TRUE(bit_equal(old.adam.v, checked.adam.v));
    EXPECT_EQ(old.adam.step, checked.adam.step);
    EXPECT_TRUE(contains(log.text(), path + ": written without checksums (by an lrnn before they "
                                            "were added): its data are loaded unverified"));
    EXPECT_EQ(test::count_lines(log.text()), 1);
  }

  // One dataset without its checksum (dropped by a program that rewrote it): the others are
  // still verified, and the note names it.
  save_default<float>(path);
  test::strip_checksums(path, {"/fixed/C"});
  LogCapture log;
  EXPECT_EQ(load_checkpoint<float>(path).unverified, std::vector<std::string>{"/fixed/C"});
  EXPECT_TRUE(
      contains(log.text(), path + ": datasets without a checksum, loaded unverified: /fixed/C"));
  test::flip_bit(path, "/params/M", 5, 2);
  EXPECT_THROW(load_checkpoint<float>(path), IoError);
}

// ---------------------------------------------------------------------------------------------
// Reads tried first in a child process (lrnn/core/read_isolation.hpp)

/// The message of the IoError that read_isolated throws for `read`, or "" if it throws none.
template <typename F>
std::string isolated_error(const std::string& path, F&& read) {
  try {
    detail::read_isolated(path, /*user_input=*/false, read);
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST_F(CheckpointTest, IsolatedReadReturnsWhatTheReadInThisProcessReturns) {
  const std::string path = file("good.h5");
  save_default<double>(path);
  int calls_here = 0;
  const int value = detail::read_isolated(path, false, [&] {
    ++calls_here;  // the child's increment happens in its own copy of this variable
    return 42;
  });
  EXPECT_EQ(value, 42);
  EXPECT_EQ(calls_here, 1);
  EXPECT_TRUE(hdf5_read_isolation());
}

TEST_F(CheckpointTest, IsolatedReadRefusesAReadThatCrashesOrExits) {
  const std::string path = file("good.h5");
  save_default<double>(path);
  // abort(): SIGABRT, which the sanitizers leave alone.
  const std::string crashed = isolated_error(path, [] { std::abort(); });
  EXPECT_EQ(crashed, path +
                         ": the HDF5 library crashed reading it (SIGABRT in a test read in a child "
                         "process): the file is corrupt");
  const std::string exited = isolated_error(path, [] { ::_exit(42); });
  EXPECT_TRUE(contains(exited, path + ": the HDF5 library failed reading it (exit code 42"))
      << exited;
  const std::string other = isolated_error(path, [] { throw std::logic_error("not lrnn's"); });
  EXPECT_EQ(other, path + ": cannot read it: not lrnn's");
  const std::string memory = isolated_error(path, [] { throw std::bad_alloc(); });
  EXPECT_EQ(memory, path + ": not enough memory to read it");
}

TEST_F(CheckpointTest, IsolatedReadThrowsTheChildsErrorWithoutReadingHere) {
  const std::string path = file("notes.h5");
  write_bytes(path, "not HDF5\n");
  int calls_here = 0;
  try {
    detail::read_isolated(path, false, [&] {
      ++calls_here;
      throw InputError(path + ": the reader's own message");
    });
    FAIL() << "no exception";
  } catch (const InputError& e) {  // the same type
    EXPECT_EQ(std::string(e.what()), path + ": the reader's own message");
  }
  EXPECT_EQ(calls_here, 0);  // only the child read
  // A long message comes through whole.
  const std::string long_text(100000, 'x');
  try {
    detail::read_isolated(path, false, [&] { throw NumericalError(long_text); });
    FAIL() << "no exception";
  } catch (const NumericalError& e) {
    EXPECT_EQ(std::string(e.what()), long_text);
  }
}

TEST_F(CheckpointTest, IsolatedReadStopsALoopingReadAtTheCpuLimit) {
  const std::string path = file("good.h5");
  save_default<double>(path);
  ::setenv("LRNN_HDF5_READ_LIMIT_S", "0.3", 1);
  const std::string looped = isolated_error(path, [] {
    volatile double x = 0;
    for (;;) x = x + 1;  // burns CPU, as HDF5 does on some corrupt files
  });
  // Stopped, not sleeping: a child that waits uses no CPU and is not stopped (a slow disk).
  std::atomic<bool> slept{false};
  const std::string waited = isolated_error(path, [&] {
    ::usleep(600000);
    slept = true;
  });
  ::unsetenv("LRNN_HDF5_READ_LIMIT_S");
  EXPECT_EQ(looped,
            path +
                ": a test read in a child process used 0.3 s of CPU time without finishing: "
                "the HDF5 library loops on this file, which is probably corrupt "
                "(LRNN_HDF5_READ_LIMIT_S sets the limit)");
  EXPECT_EQ(waited, "");
  EXPECT_TRUE(slept);  // the second read, in this process
}

// A child forked while another thread holds a lock waits for it for ever without using CPU:
// the wall-clock limit stops it, and the file is refused instead of hanging this process.
TEST_F(CheckpointTest, IsolatedReadStopsAChildBlockedOnALockAtTheWallClockLimit) {
  const std::string path = file("good.h5");
  save_default<double>(path);
  std::mutex lock;
  std::atomic<bool> held{false}, release{false};
  std::thread holder([&] {
    const std::lock_guard<std::mutex> guard(lock);
    held = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!held) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ::setenv("LRNN_HDF5_READ_WALL_LIMIT_S", "0.5", 1);
  const auto t0 = std::chrono::steady_clock::now();
  // In the child the mutex is held by a thread that was not forked: lock() never returns.
  const std::string blocked =
      isolated_error(path, [&] { const std::lock_guard<std::mutex> guard(lock); });
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::unsetenv("LRNN_HDF5_READ_WALL_LIMIT_S");
  release = true;
  holder.join();
  EXPECT_EQ(blocked,
            path +
                ": a test read in a child process did not finish in 0.5 s of wall-clock time: a "
                "stalled disk, a stopped job, or a lock another thread held when the child was "
                "forked (LRNN_HDF5_READ_WALL_LIMIT_S sets the limit)");
  EXPECT_GE(waited, 0.5);
  EXPECT_LT(waited, 10.0);  // the limit, plus the 100 ms polls, on a loaded machine
}

TEST_F(CheckpointTest, IsolationOffReadsInThisProcessOnly) {
  const std::string path = file("good.h5");
  save_default<float>(path);
  set_hdf5_read_isolation(false);
  int calls_here = 0;
  detail::read_isolated(path, false, [&] { ++calls_here; });
  set_hdf5_read_isolation(true);
  EXPECT_EQ(calls_here, 1);
  EXPECT_NO_THROW(load_checkpoint<float>(path));
}

// Files that fuzz_checkpoint made from a real checkpoint, each crashing, hanging or misreading
// inside HDF5 1.10.8 (fuzz/README.md). Every one must end in an IoError that names the file.
class Hdf5Crasher : public ::testing::TestWithParam<std::string> {};

TEST_P(Hdf5Crasher, EndsInAnIoErrorNamingTheFile) {
  const std::string path = std::string(LRNN_TEST_DATA_DIR) + "/hdf5_crashers/" + GetParam();
  ASSERT_TRUE(fs::exists(path)) << path;
  for (int reader = 0; reader < 3; ++reader) {
    SCOPED_TRACE(reader);
    try {
      if (reader == 0) (void)read_checkpoint_info(path);
      if (reader == 1) (void)load_checkpoint<double>(path);
      if (reader == 2) (void)load_checkpoint<float>(path);
      FAIL() << "no exception";
    } catch (const IoError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    }
    // The hanging file costs the time limit (10 s of CPU) for each reader; one reader shows it.
    if (GetParam() == "global_heap_hang.h5") break;
  }
}

INSTANTIATE_TEST_SUITE_P(Fuzzed, Hdf5Crasher,
                         ::testing::Values("attr_exists_heap_overflow.h5", "global_heap_hang.h5",
                                           "global_heap_memcpy_overlap.h5", "open_4gib_malloc.h5",
                                           "open_leak.h5"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param.substr(0, p.param.size() - 3);  // without ".h5"
                         });

}  // namespace
}  // namespace lrnn
