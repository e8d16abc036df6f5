// Trials files (io/trials_file.hpp): the round trip from the generator, the /trials group of an
// eval.h5, the splits, one InputError per kind of bad file, and training from a file.
#include <H5Cpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/io/trials_file.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/trainer.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;

// Every file of this test binary goes under one directory, removed when the binary exits.
const fs::path& scratch_root() {
  static const test::ScratchDir dir("trials_file");
  return dir.path();
}
using test::read_text;

fs::path temp_path(const std::string& name) { return scratch_root() / name; }

fs::path fresh_dir(const std::string& name) {
  const fs::path p = temp_path(name);
  fs::remove_all(p);
  return p;
}

std::vector<std::int64_t> iota_indices(std::int64_t first, std::int64_t count) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(count));
  std::iota(v.begin(), v.end(), first);
  return v;
}

// A generator whose trials differ in every field a file holds: coherences, offsets and input
// noise make u vary from trial to trial and step to step.
TaskOptions varied_task() {
  TaskOptions t;
  t.T_burn = 1.0;
  t.T_stim = 4.0;
  t.T_avg = 1.0;
  t.coherences = {0.3, 0.7, 1.1};
  t.stim_std = 0.2;
  t.input_noise_std = 0.5;
  t.noise_dt = 1.0;
  return t;
}
constexpr double kDt = 0.5;  // K = 10 steps of the varied task

// The first n trials of a split of `task`, in one batch.
template <typename Scalar>
TrialBatch<Scalar> generated(const ContextSwitchTask& task, Split split, std::int64_t first,
                             std::int64_t n) {
  TrialBatch<Scalar> b;
  const auto idx = iota_indices(first, n);
  task.fill(split, idx.data(), static_cast<Index>(n), b);
  return b;
}

// Trial j of `got` equals trial `j_ref` of `ref`, every field exactly.
template <typename Scalar>
void expect_same_trial(const TrialBatch<Scalar>& got, Index j, const TrialBatch<Scalar>& ref,
                       Index j_ref) {
  ASSERT_EQ(got.n_steps, ref.n_steps);
  ASSERT_EQ(got.d_in, ref.d_in);
  for (Index k = 0; k < got.n_steps; ++k) {
    for (Index c = 0; c < got.d_in; ++c) {
      ASSERT_EQ(got.u(c, k * got.n_trials + j), ref.u(c, k * ref.n_trials + j_ref))
          << "trial " << j << " step " << k << " channel " << c;
    }
  }
  EXPECT_EQ(got.target[j], ref.target[j_ref]);
  EXPECT_EQ(got.context[static_cast<std::size_t>(j)], ref.context[static_cast<std::size_t>(j_ref)]);
  EXPECT_EQ(got.coherence(0, j), ref.coherence(0, j_ref));
  EXPECT_EQ(got.coherence(1, j), ref.coherence(1, j_ref));
}

template <typename Scalar>
class TrialsFileRoundTrip : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(TrialsFileRoundTrip, Scalars);

// Written from a generated batch and read back, every split gives the generator's trials.
TYPED_TEST(TrialsFileRoundTrip, EverySplitGivesTheGeneratorsTrialsExactly) {
  using Scalar = TypeParam;
  const ContextSwitchTask task(varied_task(), kDt, 11, 12, 0, 0);
  const TrialBatch<double> all = generated<double>(task, Split::kTrain, 0, 12);
  const fs::path path = temp_path("round_trip.h5");
  write_trials_file(path.string(), all);

  const TrialsFile file = TrialsFile::load(path.string(), TrialsFileOptions{LabelType::kPm1, 3});
  EXPECT_EQ(file.n_trials(), 12);
  EXPECT_EQ(file.n_steps(), 10);
  EXPECT_EQ(file.d_in(), 4);
  EXPECT_EQ(file.prefix(), "");
  EXPECT_FALSE(file.stores_float());  // the writer stores float64
  EXPECT_FALSE(file.has_split());
  EXPECT_EQ(file.size(Split::kTrain), 9);
  EXPECT_EQ(file.size(Split::kValidation), 3);
  EXPECT_EQ(file.size(Split::kTest), 12);

  // The generator's own Scalar batch: the file must give the same numbers as the generator does
  // in that precision (both round the same double to Scalar).
  const TrialBatch<Scalar> ref = generated<Scalar>(task, Split::kTrain, 0, 12);
  const std::int64_t first_of[3] = {0, 9, 0};
  for (const Split split : {Split::kTrain, Split::kValidation, Split::kTest}) {
    SCOPED_TRACE(to_string(split));
    const std::int64_t n = file.size(split);
    // Reverse order: the batch position and the trial index must not be confused.
    std::vector<std::int64_t> idx = iota_indices(0, n);
    std::reverse(idx.begin(), idx.end());
    TrialBatch<Scalar> got;
    file.fill(split, idx.data(), static_cast<Index>(n), got);
    ASSERT_EQ(got.n_trials, n);
    for (Index j = 0; j < n; ++j) {
      const std::int64_t i = idx[static_cast<std::size_t>(j)];
      EXPECT_EQ(got.index[static_cast<std::size_t>(j)], i);
      expect_same_trial(got, j, ref, static_cast<Index>(first_of[static_cast<int>(split)] + i));
      EXPECT_EQ(file.condition(split, i),
                task.condition(Split::kTrain, first_of[static_cast<int>(split)] + i));
    }
  }
}

TEST(TrialsFile, OutOfRangeIndicesThrowAndLeaveTheBatchAlone) {
  const ContextSwitchTask task(varied_task(), kDt, 1, 6, 0, 0);
  const fs::path path = temp_path("range.h5");
  write_trials_file(path.string(), generated<double>(task, Split::kTrain, 0, 6));
  const TrialsFile file = TrialsFile::load(path.string(), TrialsFileOptions{LabelType::kPm1, 2});
  TrialBatch<double> b;
  const std::int64_t ok[2] = {0, 3};
  file.fill(Split::kTrain, ok, 2, b);
  const MatX<double> before = b.u;
  for (const std::int64_t bad : {std::int64_t{-1}, std::int64_t{4}}) {
    const std::int64_t idx[2] = {0, bad};
    EXPECT_THROW(file.fill(Split::kTrain, idx, 2, b), std::out_of_range) << bad;
    EXPECT_THROW(file.condition(Split::kTrain, bad), std::out_of_range) << bad;
  }
  const std::int64_t val_bad[1] = {2};  // validation holds 2 trials
  EXPECT_THROW(file.fill(Split::kValidation, val_bad, 1, b), std::out_of_range);
  EXPECT_EQ(b.u, before);
}

// fill only reads: threads filling at once get what one thread gets.
TEST(TrialsFile, ConcurrentFillsMatchSerialOnes) {
  const ContextSwitchTask task(varied_task(), kDt, 2, 64, 0, 0);
  const fs::path path = temp_path("concurrent.h5");
  write_trials_file(path.string(), generated<double>(task, Split::kTrain, 0, 64));
  const TrialsFile file = TrialsFile::load(path.string(), LabelType::kPm1);
  constexpr int kBlocks = 8;
  std::vector<TrialBatch<float>> serial(kBlocks), parallel(kBlocks);
  const auto fill_block = [&](int b, TrialBatch<float>& out) {
    const auto idx = iota_indices(8 * b, 8);
    file.fill(Split::kTest, idx.data(), 8, out);
  };
  for (int b = 0; b < kBlocks; ++b) fill_block(b, serial[static_cast<std::size_t>(b)]);
#pragma omp parallel for num_threads(4)
  for (int b = 0; b < kBlocks; ++b) fill_block(b, parallel[static_cast<std::size_t>(b)]);
  for (std::size_t b = 0; b < serial.size(); ++b) {
    EXPECT_EQ(parallel[b].u, serial[b].u);
    EXPECT_EQ(parallel[b].target, serial[b].target);
  }
}

// ---------------------------------------------------------------------------------------------
// Files written with the HDF5 C++ API, as another tool would write them.

// One dataset to write: shape, values (converted by HDF5 to the file type) and the file type.
struct Array {
  bool present = true;
  std::vector<hsize_t> shape;
  std::vector<double> data;
  const H5::PredType* type = &H5::PredType::NATIVE_DOUBLE;
};

struct FileSpec {
  Array u, label, context, coherence, split;
  bool under_trials = false;  ///< write them under /trials, as lrnn-eval's eval.h5 does
};

// 10 trials of 20 steps and 3 channels, every dataset valid and present but /split.
FileSpec good_spec(hsize_t n = 10, hsize_t K = 20, hsize_t d = 3) {
  FileSpec s;
  s.u.shape = {n, K, d};
  s.u.data.resize(n * K * d);
  for (std::size_t i = 0; i < s.u.data.size(); ++i) {
    s.u.data[i] = std::sin(0.37 * static_cast<double>(i)) / 3.0;
  }
  s.label.shape = {n};
  s.context.shape = {n};
  s.context.type = &H5::PredType::NATIVE_INT;
  s.coherence.shape = {n, 2};
  for (hsize_t j = 0; j < n; ++j) {
    const double c1 = (j % 2 == 0 ? 1.0 : -1.0) * 0.5;
    const double c2 = (j % 3 == 0 ? 1.0 : -1.0) * 0.25;
    const int ctx = 1 + static_cast<int>(j % 2);
    s.label.data.push_back((ctx == 1 ? c1 : c2) > 0 ? 1.0 : -1.0);
    s.context.data.push_back(ctx);
    s.coherence.data.push_back(c1);
    s.coherence.data.push_back(c2);
  }
  s.split.present = false;
  s.split.shape = {n};
  s.split.type = &H5::PredType::NATIVE_INT;
  return s;
}

void write_array(const H5::Group& g, const std::string& name, const Array& a) {
  if (!a.present) return;
  const H5::DataSpace space(static_cast<int>(a.shape.size()), a.shape.data());
  H5::DataSet ds = g.createDataSet(name, *a.type, space);
  if (!a.data.empty()) ds.write(a.data.data(), H5::PredType::NATIVE_DOUBLE);
}

void write_spec(const fs::path& path, const FileSpec& s) {
  H5::H5File file(path.string(), H5F_ACC_TRUNC);
  H5::Group root = file.openGroup("/");
  H5::Group g = s.under_trials ? file.createGroup("trials") : root;
  write_array(g, "u", s.u);
  write_array(g, "label", s.label);
  write_array(g, "context", s.context);
  write_array(g, "coherence", s.coherence);
  write_array(g, "split", s.split);
}

TEST(TrialsFile, FindsTheTrialsGroupOfAnEvalFile) {
  FileSpec s = good_spec();
  s.under_trials = true;
  const fs::path path = temp_path("eval_like.h5");
  write_spec(path, s);
  {  // what else an eval.h5 holds beside its trials
    H5::H5File file(path.string(), H5F_ACC_RDWR);
    H5::Group trials = file.openGroup("trials");
    const hsize_t shape[2] = {10, 20};
    trials.createDataSet("y", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(2, shape));
  }
  const TrialsFile file = TrialsFile::load(path.string(), LabelType::kPm1);
  EXPECT_EQ(file.prefix(), "/trials");
  EXPECT_EQ(file.n_trials(), 10);
  EXPECT_EQ(file.n_steps(), 20);
  EXPECT_EQ(file.d_in(), 3);
  TrialBatch<double> b;
  const std::int64_t idx[1] = {7};
  file.fill(Split::kTest, idx, 1, b);
  // u[7, 5, 2] is element (7 * 20 + 5) * 3 + 2 of the row-major file array.
  EXPECT_EQ(b.u(2, 5), s.u.data[(7 * 20 + 5) * 3 + 2]);
  EXPECT_EQ(b.target[0], s.label.data[7]);
  EXPECT_EQ(b.context[0], 2);
  EXPECT_EQ(b.coherence(0, 0), s.coherence.data[14]);
  EXPECT_EQ(b.coherence(1, 0), s.coherence.data[15]);
  EXPECT_EQ(file.condition(Split::kTest, 7), 4 + 0 + 0);  // context 2, c1 < 0, c2 < 0

  // Its errors name the dataset by its full path.
  s.label.data[4] = 0.5;
  write_spec(path, s);
  try {
    TrialsFile::load(path.string(), LabelType::kPm1);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/trials/label[4] = 0.5"), std::string::npos) << e.what();
  }
}

TEST(TrialsFile, Float32InputsStayFloat32AndOptionalDatasetsMayBeAbsent) {
  FileSpec s = good_spec();
  s.u.type = &H5::PredType::IEEE_F32LE;
  s.context.present = false;
  s.label.shape = {10, 1};  // trials x 1, as a column vector from MATLAB or numpy
  const fs::path path = temp_path("float32.h5");
  write_spec(path, s);
  const TrialsFile file = TrialsFile::load(path.string(), LabelType::kPm1);
  EXPECT_TRUE(file.stores_float());
  EXPECT_FALSE(file.has_context());
  EXPECT_TRUE(file.has_coherence());
  TrialBatch<float> b;
  const auto idx = iota_indices(0, 10);
  file.fill(Split::kTest, idx.data(), 10, b);
  for (Index j = 0; j < 10; ++j) {
    EXPECT_EQ(b.u(1, 3 * 10 + j),
              static_cast<float>(s.u.data[static_cast<std::size_t>((j * 20 + 3) * 3 + 1)]));
    EXPECT_EQ(b.context[static_cast<std::size_t>(j)], 0);  // unknown
    EXPECT_EQ(file.condition(Split::kTest, j), 0);         // no context: one group
  }
}

// h5py stores a numpy bool array as an HDF5 enum over int8: binary labels written that way load.
TEST(TrialsFile, BoolLabelsFromH5pyLoadAsBinary) {
  FileSpec s = good_spec();
  s.label.present = false;
  const fs::path path = temp_path("bool_labels.h5");
  write_spec(path, s);
  {
    H5::H5File file(path.string(), H5F_ACC_RDWR);
    H5::EnumType type(H5::IntType(H5::PredType::NATIVE_INT8));
    std::int8_t no = 0, yes = 1;
    type.insert("FALSE", &no);
    type.insert("TRUE", &yes);
    const hsize_t n = 10;
    std::vector<std::int8_t> labels(10);
    for (std::size_t j = 0; j < 10; ++j) labels[j] = static_cast<std::int8_t>(j % 3 == 0);
    H5::DataSet ds = file.createDataSet("label", type, H5::DataSpace(1, &n));
    ds.write(labels.data(), type);
  }
  const TrialsFile file = TrialsFile::load(path.string(), LabelType::kBinary);
  TrialBatch<double> b;
  const auto idx = iota_indices(0, 10);
  file.fill(Split::kTest, idx.data(), 10, b);
  for (Index j = 0; j < 10; ++j) EXPECT_EQ(b.target[j], j % 3 == 0 ? 1.0 : 0.0);
}

TEST(TrialsFileSplits, SplitDatasetChoosesTheTrialsOfEachSplit) {
  FileSpec s = good_spec();
  s.split.present = true;
  s.split.data = {2, 0, 1, 0, 0, 1, 2, 0, 0, 2};
  const fs::path path = temp_path("split.h5");
  write_spec(path, s);
  // n_val is ignored when the file says where each trial goes.
  TrialsFile file = TrialsFile::load(path.string(), TrialsFileOptions{LabelType::kPm1, 9});
  EXPECT_TRUE(file.has_split());
  const std::vector<std::vector<std::int64_t>> expected = {{1, 3, 4, 7, 8}, {2, 5}, {0, 6, 9}};
  for (const Split split : {Split::kTrain, Split::kValidation, Split::kTest}) {
    const auto& want = expected[static_cast<std::size_t>(split)];
    ASSERT_EQ(file.size(split), static_cast<std::int64_t>(want.size())) << to_string(split);
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(file.file_index(split, static_cast<std::int64_t>(i)), want[i]);
      TrialBatch<double> b;
      const std::int64_t idx[1] = {static_cast<std::int64_t>(i)};
      file.fill(split, idx, 1, b);
      EXPECT_EQ(b.u(0, 0), s.u.data[static_cast<std::size_t>(want[i]) * 60]);
      EXPECT_EQ(b.target[0], s.label.data[static_cast<std::size_t>(want[i])]);
    }
  }
  file.set_n_val(2);
  EXPECT_EQ(file.size(Split::kValidation), 2);
  EXPECT_EQ(file.size(Split::kTrain), 5);
}

TEST(TrialsFileSplits, WithoutSplitTheLastNValTrialsValidate) {
  const fs::path path = temp_path("nosplit.h5");
  write_spec(path, good_spec());
  TrialsFile file = TrialsFile::load(path.string(), TrialsFileOptions{LabelType::kPm1, 4});
  EXPECT_EQ(file.size(Split::kTrain), 6);
  EXPECT_EQ(file.size(Split::kValidation), 4);
  EXPECT_EQ(file.size(Split::kTest), 10);
  EXPECT_EQ(file.file_index(Split::kTrain, 5), 5);
  EXPECT_EQ(file.file_index(Split::kValidation, 0), 6);
  EXPECT_EQ(file.file_index(Split::kTest, 9), 9);
  file.set_n_val(0);
  EXPECT_EQ(file.size(Split::kTrain), 10);
  EXPECT_EQ(file.size(Split::kValidation), 0);
  for (const std::int64_t n_val : {10, 11}) {
    try {
      file.set_n_val(n_val);
      ADD_FAILURE() << "expected InputError for n_val " << n_val;
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(path.string()), std::string::npos) << m;
      EXPECT_NE(m.find("n_val_trials"), std::string::npos) << m;
    }
  }
  EXPECT_THROW(TrialsFile::load(path.string(), TrialsFileOptions{LabelType::kPm1, 10}), InputError);
}

// ---------------------------------------------------------------------------------------------
// Bad files: each is an InputError whose one line names the file and the dataset.

struct BadCase {
  std::string name;
  std::function<void(FileSpec&)> spoil;
  std::vector<std::string> expected;  ///< substrings of the message, besides the file name
  LabelType label_type = LabelType::kPm1;
  std::int64_t n_val = 0;
};

class TrialsFileErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(TrialsFileErrors, AreOneLineInputErrorsNamingFileAndDataset) {
  const BadCase& c = GetParam();
  FileSpec s = good_spec();
  c.spoil(s);
  const fs::path path = temp_path("bad_" + c.name + ".h5");
  write_spec(path, s);
  try {
    TrialsFile::load(path.string(), TrialsFileOptions{c.label_type, c.n_val});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(path.string() + ": ", 0), 0u) << m;
    for (const std::string& part : c.expected) EXPECT_NE(m.find(part), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

double nan() { return std::numeric_limits<double>::quiet_NaN(); }

INSTANTIATE_TEST_SUITE_P(
    BadFiles, TrialsFileErrors,
    ::testing::Values(
        BadCase{"u_missing", [](FileSpec& s) { s.u.present = false; }, {"/u is missing"}},
        BadCase{"u_rank2",
                [](FileSpec& s) {
                  s.u.shape = {10, 60};
                },
                {"/u has shape 10x60 but must be trials x K x d_in (rank 3)"}},
        BadCase{"u_zero_trials",
                [](FileSpec& s) {
                  s.u.shape = {0, 20, 3};
                  s.u.data.clear();
                },
                {"/u has shape 0x20x3: zero trials"}},
        BadCase{"u_zero_steps",
                [](FileSpec& s) {
                  s.u.shape = {10, 0, 3};
                  s.u.data.clear();
                },
                {"/u", "K = 0"}},
        BadCase{"u_nan",
                [](FileSpec& s) { s.u.data[(3 * 20 + 17) * 3 + 0] = nan(); },
                {"/u[3, 17, 0] is NaN"}},
        BadCase{"u_inf_float32",
                [](FileSpec& s) {
                  s.u.type = &H5::PredType::IEEE_F32LE;
                  s.u.data[(9 * 20 + 19) * 3 + 2] = -std::numeric_limits<double>::infinity();
                },
                {"/u[9, 19, 2] is -Inf"}},
        BadCase{
            "label_missing", [](FileSpec& s) { s.label.present = false; }, {"/label is missing"}},
        BadCase{"label_count",
                [](FileSpec& s) {
                  s.label.shape = {9};
                  s.label.data.pop_back();
                },
                {"/label has 9 entries but /u has 10 trials"}},
        BadCase{"label_shape",
                [](FileSpec& s) {
                  s.label.shape = {5, 2};
                },
                {"/label has shape 5x2 but must be trials"}},
        BadCase{"label_pm1",
                [](FileSpec& s) { s.label.data[4] = 0.5; },
                {"/label[4] = 0.5 must be -1 or +1 (task.label_type = pm1)"}},
        BadCase{
            "label_binary_given_pm1",
            [](FileSpec&) {},
            {"/label[", "must be 0 or 1 (task.label_type = binary)", "set task.label_type: pm1"},
            LabelType::kBinary},
        BadCase{"label_nan",
                [](FileSpec& s) { s.label.data[2] = nan(); },
                {"/label[2] = nan must be -1 or +1"}},
        BadCase{"context_value",
                [](FileSpec& s) { s.context.data[6] = 3; },
                {"/context[6] = 3 must be 1 or 2 (0 = unknown)"}},
        BadCase{"context_count",
                [](FileSpec& s) {
                  s.context.shape = {11};
                  s.context.data.push_back(1);
                },
                {"/context has 11 entries but /u has 10 trials"}},
        BadCase{"coherence_shape",
                [](FileSpec& s) { s.coherence.shape = {20}; },
                {"/coherence has shape 20 but must be trials x 2 (10x2)"}},
        BadCase{"coherence_nan",
                [](FileSpec& s) { s.coherence.data[7] = nan(); },
                {"/coherence[3, 1] is NaN"}},
        BadCase{"split_value",
                [](FileSpec& s) {
                  s.split.present = true;
                  s.split.data = {0, 0, 1, 0, 5, 0, 0, 2, 0, 0};
                },
                {"/split[4] = 5 must be 0 (train), 1 (validation) or 2 (test)"}},
        BadCase{"n_val_too_large",
                [](FileSpec&) {},
                {"10 trials", "n_val_trials = 10"},
                LabelType::kPm1,
                10}),
    [](const ::testing::TestParamInfo<BadCase>& param_info) { return param_info.param.name; });

void expect_load_error(const fs::path& path, const std::string& expected) {
  try {
    TrialsFile::load(path.string(), LabelType::kPm1);
    ADD_FAILURE() << "expected InputError for " << path;
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(path.string() + ": ", 0), 0u) << m;
    EXPECT_NE(m.find(expected), std::string::npos) << m;
  }
}

TEST(TrialsFileErrorsOther, MissingNotHdf5StringsAndGroups) {
  const fs::path missing = temp_path("does_not_exist.h5");
  fs::remove(missing);
  expect_load_error(missing, "no such file");

  const fs::path text = temp_path("not_hdf5.h5");
  std::ofstream(text) << "u,label\n1,2\n";
  expect_load_error(text, "not an HDF5 file");

  const fs::path strings = temp_path("string_label.h5");
  FileSpec s = good_spec();
  s.label.present = false;
  write_spec(strings, s);
  {
    H5::H5File file(strings.string(), H5F_ACC_RDWR);
    H5::StrType type(H5::PredType::C_S1, 8);
    const hsize_t n = 10;
    std::vector<char> text_labels(80, 'a');
    file.createDataSet("label", type, H5::DataSpace(1, &n)).write(text_labels.data(), type);
  }
  expect_load_error(strings, "/label is of HDF5 type class string, but must be numeric");

  const fs::path group = temp_path("u_group.h5");
  s = good_spec();
  s.u.present = false;
  write_spec(group, s);
  {
    H5::H5File file(group.string(), H5F_ACC_RDWR);
    file.createGroup("u");
  }
  expect_load_error(group, "/u is not a dataset");
}

// ---------------------------------------------------------------------------------------------
// Training from a file.

// N 20, R 1, dt 0.5, T_avg 2 on trials of T_burn 2 + T_stim 8 (20 steps).
Config tiny_config(const fs::path& dir) {
  Config c;
  c.rnn.N = 20;
  c.rnn.R = 1;
  c.task.T_burn = 2.0;
  c.task.T_stim = 8.0;
  c.task.T_avg = 2.0;
  c.integrator.dt = 0.5;
  c.training.seed = 5;
  c.training.batch_size = 8;
  c.training.n_train_trials = 160;
  c.training.n_val_trials = 32;
  c.training.n_epochs = 3;  // 60 steps
  c.training.learning_rate = 0.03;
  c.training.eval_every = 20;
  c.training.save_every = 20;
  c.training.threads = 2;
  c.output.dir = dir.string();
  return c;
}

// The generator's training trials followed by its validation trials: without /split, a file
// run of the same config then sees exactly the generator's data.
fs::path write_generator_trials(const Config& c, const std::string& name) {
  const ContextSwitchTask task(c.task, c.integrator.dt, c.training.seed, c.training.n_train_trials,
                               c.training.n_val_trials, 0);
  const auto train = generated<double>(task, Split::kTrain, 0, c.training.n_train_trials);
  const auto val = generated<double>(task, Split::kValidation, 0, c.training.n_val_trials);
  TrialBatch<double> all;
  const Index n = train.n_trials + val.n_trials, K = train.n_steps;
  all.resize(n, K, 4);
  for (Index k = 0; k < K; ++k) {
    all.u.middleCols(k * n, train.n_trials) = train.u_step(k);
    all.u.middleCols(k * n + train.n_trials, val.n_trials) = val.u_step(k);
  }
  all.target << train.target, val.target;
  all.coherence << train.coherence, val.coherence;
  all.context = train.context;
  all.context.insert(all.context.end(), val.context.begin(), val.context.end());
  const fs::path path = temp_path(name);
  write_trials_file(path.string(), all);
  return path;
}

// The same trials from a file or from the generator train the same network, bit for bit; the
// loss falls; the run directory's config.yaml records the file's d_in and absolute path.
TEST(TrialsFileTraining, MatchesTheGeneratorBitForBitAndTheLossFalls) {
  const fs::path gen_dir = fresh_dir("run_generator");
  const fs::path file_dir = fresh_dir("run_file");
  Config c = tiny_config(gen_dir);
  const fs::path trials = write_generator_trials(c, "train_trials.h5");
  train(c, prepare_run_dir(c.output.dir), TrainRunOptions{});

  Config cf = tiny_config(file_dir);
  cf.task.trials_file = trials.string();
  cf.task.T_burn = 15.0;  // the file sets the trial length: these two no longer apply
  cf.task.T_stim = 85.0;
  cf.rnn.d_in = 7;  // nor this: the file has 4 channels
  const RunDir run = prepare_run_dir(cf.output.dir);
  const TrainSummary s = train(cf, run, TrainRunOptions{});
  EXPECT_EQ(s.status, TrainStatus::kCompleted);
  EXPECT_EQ(s.steps_done, 60);

  const auto a = load_checkpoint<float>((gen_dir / "final.h5").string());
  const auto b = load_checkpoint<float>(run.final());
  EXPECT_EQ(b.info.dims.d_in, 4);
  EXPECT_TRUE((a.net.theta.flat().array() == b.net.theta.flat().array()).all());
  EXPECT_EQ(test::metrics_losses((gen_dir / "metrics.jsonl").string()),
            test::metrics_losses(run.metrics()));

  const auto l = test::metrics_losses(run.metrics());
  ASSERT_EQ(l.size(), 60u);
  double first = 0, last = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    first += l[i];
    last += l[l.size() - 1 - i];
  }
  // The untrained pm1 loss is near 1; 60 steps at lr 0.03 must take a clear part of it away.
  EXPECT_LT(last, 0.8 * first) << "first 10 steps " << first / 10 << ", last 10 " << last / 10;

  const Config resolved = parse_config(read_text(run.config()), run.config());
  EXPECT_EQ(resolved.rnn.d_in, 4);
  EXPECT_EQ(resolved.task.trials_file, fs::absolute(trials).lexically_normal().string());
  EXPECT_EQ(b.info.meta.config_yaml, to_yaml(resolved));
}

TEST(TrialsFileTraining, ResumeRefusesAnotherFileAndAcceptsTheSame) {
  const fs::path dir = fresh_dir("run_resume");
  Config c = tiny_config(dir);
  c.training.n_epochs = 1;  // 20 steps
  c.training.save_every = 10;
  const fs::path trials = write_generator_trials(c, "resume_trials.h5");
  const fs::path other = temp_path("resume_trials_copy.h5");
  fs::copy_file(trials, other, fs::copy_options::overwrite_existing);
  c.task.trials_file = trials.string();
  const RunDir run = prepare_run_dir(c.output.dir);
  train(c, run, TrainRunOptions{});

  TrainRunOptions o;
  o.resume = run.step_checkpoint(10);
  Config changed = c;
  changed.task.trials_file = other.string();
  try {
    train(changed, run, o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("trials_file"), std::string::npos) << m;
    EXPECT_NE(m.find("resume_trials_copy.h5"), std::string::npos) << m;
  }
  const TrainSummary s = train(c, run, o);
  EXPECT_EQ(s.status, TrainStatus::kCompleted);
  EXPECT_EQ(s.steps_done, 20);
}

TEST(TrialsFileTraining, RefusesAFileTooShortForTheWindowOrTooSmallForTheConfig) {
  const fs::path dir = fresh_dir("run_refused");
  Config c = tiny_config(dir);
  const fs::path trials = write_generator_trials(c, "short_trials.h5");  // K = 20, T = 10
  c.task.trials_file = trials.string();
  const auto expect_refused = [&](const Config& cfg, const std::string& expected) {
    try {
      train(cfg, prepare_run_dir(cfg.output.dir, RunDirMode::kOverwrite), TrainRunOptions{});
      ADD_FAILURE() << "expected InputError: " << expected;
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(trials.string()), std::string::npos) << m;
      EXPECT_NE(m.find(expected), std::string::npos) << m;
    }
  };
  Config longer = c;
  longer.task.T_avg = 12.0;  // the window would start before the trial
  expect_refused(longer, "task.T_avg = 12");
  Config more = c;
  more.training.n_train_trials = 500;
  expect_refused(more, "training.n_train_trials = 500");
  Config val = c;
  val.training.n_val_trials = 192;  // all the file's trials
  expect_refused(val, "n_val_trials = 192");
  EXPECT_FALSE(fs::exists(dir / "checkpoints" / "step_000000.h5"));  // refused before writing
}

}  // namespace
}  // namespace lrnn

namespace lrnn {
namespace {

// The arrays of a generated batch, in a trials file's layout (trials x K x d_in row-major).
TrialArrays arrays_of(const TrialBatch<double>& b, bool as_float) {
  TrialArrays a;
  a.n_trials = b.n_trials;
  a.K = b.n_steps;
  a.d_in = b.d_in;
  std::vector<double> u(static_cast<std::size_t>(b.n_trials * b.n_steps * b.d_in));
  for (Index j = 0; j < b.n_trials; ++j) {
    for (Index k = 0; k < b.n_steps; ++k) {
      for (Index c = 0; c < b.d_in; ++c) {
        u[static_cast<std::size_t>((j * b.n_steps + k) * b.d_in + c)] = b.u(c, k * b.n_trials + j);
      }
    }
  }
  if (as_float) {
    a.u_float.assign(u.begin(), u.end());
  } else {
    a.u_double = u;
  }
  a.label.assign(b.target.data(), b.target.data() + b.n_trials);
  a.context.assign(b.context.begin(), b.context.end());
  for (Index j = 0; j < b.n_trials; ++j) {
    a.coherence.push_back(b.coherence(0, j));
    a.coherence.push_back(b.coherence(1, j));
  }
  return a;
}

// Arrays give what the same trials written to a file give, in both storage types.
TEST(TrialsFromArrays, GiveTheFilesTrialsExactly) {
  const ContextSwitchTask task(varied_task(), kDt, 11, 12, 0, 0);
  const TrialBatch<double> all = generated<double>(task, Split::kTrain, 0, 12);
  const fs::path path = temp_path("arrays_ref.h5");
  write_trials_file(path.string(), all);
  const TrialsFile file = TrialsFile::load(path.string(), TrialsFileOptions{LabelType::kPm1, 3});
  for (const bool as_float : {false, true}) {
    SCOPED_TRACE(as_float ? "float" : "double");
    const TrialsFile arr =
        TrialsFile::from_arrays(arrays_of(all, as_float), TrialsFileOptions{LabelType::kPm1, 3});
    EXPECT_EQ(arr.stores_float(), as_float);
    EXPECT_EQ(arr.size(Split::kTrain), 9);
    EXPECT_EQ(arr.size(Split::kValidation), 3);
    const auto idx = iota_indices(0, 9);
    TrialBatch<float> got, ref;
    arr.fill(Split::kTrain, idx.data(), 9, got);
    file.fill(Split::kTrain, idx.data(), 9, ref);
    for (Index j = 0; j < 9; ++j) {
      expect_same_trial(got, j, ref, j);
      EXPECT_EQ(arr.condition(Split::kTrain, j), file.condition(Split::kTrain, j));
    }
  }
}

// Each rule of a file holds for arrays, with the array named in a one-line InputError.
TEST(TrialsFromArrays, BadArraysAreInputErrorsNamingTheArray) {
  const ContextSwitchTask task(varied_task(), kDt, 11, 4, 0, 0);
  const TrialBatch<double> all = generated<double>(task, Split::kTrain, 0, 4);
  const auto expect_error = [&](const std::function<void(TrialArrays&)>& spoil,
                                const std::string& needle) {
    TrialArrays a = arrays_of(all, false);
    a.source = "trials=";
    spoil(a);
    try {
      (void)TrialsFile::from_arrays(std::move(a), TrialsFileOptions{LabelType::kPm1, 1});
      ADD_FAILURE() << "no error for " << needle;
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("trials=: "), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  expect_error([](TrialArrays& a) { a.u_double[7] = std::nan(""); }, "u[0, 1, 3] is NaN");
  expect_error([](TrialArrays& a) { a.u_double.pop_back(); }, "u has 159 entries");
  expect_error([](TrialArrays& a) { a.K = 0; }, "each >= 1");
  expect_error([](TrialArrays& a) { a.label[2] = 0.5; }, "label[2] = 0.5 must be -1 or +1");
  expect_error([](TrialArrays& a) { a.label.pop_back(); }, "label has 3 entries");
  expect_error([](TrialArrays& a) { a.context[1] = 3; }, "context[1] = 3 must be 1 or 2");
  expect_error([](TrialArrays& a) { a.coherence[3] = INFINITY; }, "coherence[1, 1] is +Inf");
  expect_error([](TrialArrays& a) { a.split = {0, 1, 4, 2}; }, "split[2] = 4 must be 0");
  expect_error([](TrialArrays& a) { a.split = {0, 1}; }, "split has 2 entries");
  EXPECT_THROW(
      (void)TrialsFile::from_arrays(arrays_of(all, false), TrialsFileOptions{LabelType::kPm1, 4}),
      InputError);  // n_val must leave training trials
}

}  // namespace
}  // namespace lrnn
