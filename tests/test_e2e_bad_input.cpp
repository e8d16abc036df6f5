// End-to-end: bad input through the real apps. Every bad config of tests/data (the corpus of
// test_config and tests/data/config_rules, one file per rule of validate()), every kind of broken
// checkpoint (missing, truncated, not HDF5, newer format, wrong shapes, NaN, another config) given
// to lrnn-train --resume, lrnn-eval and lrnn-inspect, and broken trials files given to lrnn-train
// and lrnn-eval: each must exit with 2 and one line on stderr that names the file and the key or
// dataset, without crashing, hanging, or printing HDF5's error stack.
#include <H5Cpp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"
#include "support/checkpoint_edits.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/tiny_config.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;
using test::ProcessResult;
using test::ScratchDir;

const std::string kDataDir = LRNN_TEST_DATA_DIR;

// A hang is a failure: no bad input takes this long to refuse.
constexpr double kTimeoutS = 60.0;

const std::string kTiny = test::tiny_config_yaml(R"(  batch_size: 8
  n_train_trials: 16
  n_val_trials: 8
  eval_every: 2
  save_every: 2
  threads: 1
)");

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

ProcessResult run(const std::vector<std::string>& argv, const ScratchDir& dir, int as_user = -1) {
  static int calls = 0;
  return test::run_process(argv, dir / ("capture_" + std::to_string(++calls)), kTimeoutS, as_user);
}

/// Exit code 2, nothing on stdout, one line on stderr holding every one of `parts`, and no trace
/// of a crash or of HDF5's own error printing.
void expect_refused(const ProcessResult& r, const std::vector<std::string>& parts,
                    const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_TRUE(r.exited) << r.how() << "\n" << r.err;
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out, "");
  const auto lines = test::lines_of(r.err);
  EXPECT_EQ(lines.size(), 1u) << "not one line:\n" << r.err;
  for (const std::string& part : parts) {
    EXPECT_NE(r.err.find(part), std::string::npos) << "'" << part << "' not in: " << r.err;
  }
  for (const char* bad : {"HDF5-DIAG", "terminate called", "Segmentation", "Aborted", "H5F"}) {
    EXPECT_EQ(r.err.find(bad), std::string::npos) << r.err;
  }
}

// ---------------------------------------------------------------------------------------------
// Configs

/// Every bad config in tests/data: the corpus of test_config (configs/bad_*.yaml, empty.yaml) and
/// config_rules/*.yaml, whose first line says the message: "# expect: LINE: TEXT".
std::vector<std::string> bad_config_files() {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(kDataDir + "/configs")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("bad_", 0) == 0 || name == "empty.yaml") files.push_back(e.path().string());
  }
  for (const auto& e : fs::directory_iterator(kDataDir + "/config_rules")) {
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string config_test_name(const ::testing::TestParamInfo<std::string>& info) {
  const fs::path p(info.param);
  std::string name = p.parent_path().filename().string() + "_" + p.stem().string();
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

class BadConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(BadConfig, LrnnTrainExitsTwoWithTheOneLineThatNamesFileAndKey) {
  const std::string path = GetParam();
  std::string expected;
  try {
    load_config(path);
    FAIL() << path << " loads";
  } catch (const ConfigError& e) {
    expected = e.what();
  }
  // The library's message names the file and line; a rules file says the rest.
  EXPECT_EQ(expected.rfind(path + ":", 0), 0u) << expected;
  const std::string first_line = test::lines_of(test::read_text(path)).front();
  const std::string tag = "# expect: ";
  if (first_line.rfind(tag, 0) == 0) {
    EXPECT_EQ(expected, path + ":" + first_line.substr(tag.size()));
  }

  ScratchDir dir("bad_config");
  const std::string out = dir / "run";
  const ProcessResult r = run({LRNN_TRAIN_EXE, path, "--out", out}, dir);
  expect_refused(r, {}, path);
  EXPECT_EQ(r.err, "lrnn-train: error: " + expected + "\n");
  EXPECT_FALSE(fs::exists(out)) << "a bad config must fail before anything is written";
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadConfig, ::testing::ValuesIn(bad_config_files()),
                         config_test_name);

// Every rule of validate() has its file in config_rules (a rule added without one fails here):
// the owners' IsValid checks and the rules config/ adds (finite numbers, relations, output).
TEST(BadConfigCorpus, CoversEveryRangeRuleOfValidate) {
  std::string source;
  for (const char* file :
       {"/src/config/config.cpp", "/src/model/options.cpp", "/src/task/options.cpp",
        "/src/integrate/options.cpp", "/src/optim/training_options.cpp"}) {
    const std::string text = test::read_text(std::string(LRNN_SOURCE_DIR) + file);
    ASSERT_FALSE(text.empty()) << file;
    source += text;
  }
  std::string corpus;
  for (const auto& e : fs::directory_iterator(kDataDir + "/config_rules")) {
    corpus += test::lines_of(test::read_text(e.path().string())).front() + "\n";
  }
  // The keys the checks name: c.positive("rnn.tau", ...) and the like, and
  // c.fail({keys...}, "path", ...) / fail_at(c, locations, {keys...}, "path", ...) for the rules
  // that relate keys.
  int rules = 0;
  const auto expect_covered = [&](const std::string& key) {
    ++rules;
    EXPECT_NE(corpus.find(" " + key + " = "), std::string::npos)
        << "no file in tests/data/config_rules breaks the rule on " << key;
  };
  for (const std::string call :
       {".at_least(\"", ".positive(\"", ".non_negative(\"", ".unit_interval(\""}) {
    for (auto pos = source.find(call); pos != std::string::npos; pos = source.find(call, pos + 1)) {
      const auto begin = pos + call.size();
      expect_covered(source.substr(begin, source.find('"', begin) - begin));
    }
  }
  for (const std::string relation : {".fail({", "fail_at(c, locations, {"}) {
    for (auto pos = source.find(relation); pos != std::string::npos;
         pos = source.find(relation, pos + 1)) {
      const auto path = source.find_first_not_of(", \n", source.find('}', pos) + 1);
      if (path == std::string::npos || source[path] != '"') continue;  // a computed path
      expect_covered(source.substr(path + 1, source.find('"', path + 1) - path - 1));
    }
  }
  EXPECT_GE(rules, 45);
}

// A config the user cannot read. Root reads any file, so as root the app runs as 'nobody'.
TEST(BadConfigFile, UnreadableConfigNamesTheFileAndTheReason) {
  ScratchDir dir("unreadable_config");
  const std::string path = dir / "secret.yaml";
  write_file(path, kTiny);
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  // The directory holds a second config inside a directory the user may not enter.
  const std::string locked = dir / "locked";
  fs::create_directory(locked);
  write_file(locked + "/inside.yaml", kTiny);
  ASSERT_EQ(::chmod(locked.c_str(), 0), 0);

  int user = -1;
  if (::geteuid() == 0) {
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) GTEST_SKIP() << "running as root and there is no user 'nobody'";
    user = static_cast<int>(nobody->pw_uid);
    const ProcessResult probe = run({LRNN_TRAIN_EXE, "--help"}, dir, user);
    if (probe.exit_code != 0) {
      GTEST_SKIP() << "running as root, and user 'nobody' cannot run " << LRNN_TRAIN_EXE << " ("
                   << probe.how() << ")";
    }
  }
  const ProcessResult r = run({LRNN_TRAIN_EXE, path, "--out", dir / "run"}, dir, user);
  expect_refused(r, {path + ": cannot open the config file for reading (Permission denied)"},
                 "unreadable file");
  const ProcessResult r2 =
      run({LRNN_TRAIN_EXE, locked + "/inside.yaml", "--out", dir / "run"}, dir, user);
  expect_refused(r2, {locked + "/inside.yaml: cannot read the config file (Permission denied)"},
                 "file in a locked directory");
  ::chmod(locked.c_str(), 0755);
}

TEST(BadConfigFile, MissingEmptyDirectoryAndBinaryConfigs) {
  ScratchDir dir("config_files");
  write_file(dir / "empty.yaml", "");
  write_file(dir / "binary.yaml", std::string("\x89HDF\r\n\x1a\n\0\0\0", 12));
  write_file(dir / "crlf.yaml", "rnn:\r\n  N: -3\r\n");
  struct Case {
    std::string config, expect;
  };
  for (const Case& c : std::vector<Case>{
           {dir / "absent.yaml", dir / "absent.yaml: no such config file"},
           {dir / "empty.yaml", dir / "empty.yaml: the config file is empty"},
           {dir.path().string(), dir.path().string() + ": is a directory, not a config file"},
           {dir / "binary.yaml", dir / "binary.yaml"},
           {dir / "crlf.yaml", dir / "crlf.yaml:2: rnn.N = -3: must be >= 1"},
       }) {
    expect_refused(run({LRNN_TRAIN_EXE, c.config, "--out", dir / "run"}, dir), {c.expect},
                   c.config);
  }
  EXPECT_FALSE(fs::exists(dir / "run"));
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/// A real checkpoint from a tiny run of lrnn-train, made once per test process.
class BadCheckpoint : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("bad_checkpoint");
    write_file(*dir_ / "tiny.yaml", kTiny);
    const ProcessResult r =
        run({LRNN_TRAIN_EXE, *dir_ / "tiny.yaml", "--out", *dir_ / "good"}, *dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    good_ = *dir_ / "good/final.h5";
    bytes_ = test::read_text(good_);
    ASSERT_GT(bytes_.size(), 2000u);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  /// A copy of the good checkpoint to break.
  static std::string copy(const std::string& name) {
    const std::string path = *dir_ / name;
    fs::copy_file(good_, path, fs::copy_options::overwrite_existing);
    return path;
  }

  /// lrnn-train --resume, lrnn-eval and lrnn-inspect given `ckpt`: each exits with 2 and one
  /// line naming the file and every one of `parts`.
  static void expect_every_app_refuses(const std::string& ckpt,
                                       const std::vector<std::string>& parts) {
    static int n = 0;
    const std::string tag = std::to_string(++n);
    std::vector<std::string> expected = parts;
    expected.push_back(ckpt);
    expect_refused(run({LRNN_TRAIN_EXE, *dir_ / "tiny.yaml", "--out", *dir_ / ("resume" + tag),
                        "--resume", ckpt},
                       *dir_),
                   expected, "lrnn-train --resume " + ckpt);
    expect_refused(
        run({LRNN_EVAL_EXE, ckpt, "--trials", "8", "--no-figures", "--out", *dir_ / ("eval" + tag)},
            *dir_),
        expected, "lrnn-eval " + ckpt);
    expect_refused(run({LRNN_INSPECT_EXE, ckpt, "--json"}, *dir_), expected,
                   "lrnn-inspect " + ckpt);
    EXPECT_FALSE(fs::exists(*dir_ / ("eval" + tag))) << "lrnn-eval wrote output";
  }

  template <typename Edit>
  static void edit(const std::string& path, Edit&& f) {
    H5::H5File file(path, H5F_ACC_RDWR);
    f(file);
  }

  static ScratchDir* dir_;
  static std::string good_;
  static std::string bytes_;
};

ScratchDir* BadCheckpoint::dir_ = nullptr;
std::string BadCheckpoint::good_;
std::string BadCheckpoint::bytes_;

TEST_F(BadCheckpoint, TheGoodOneLoadsInEveryApp) {
  const ProcessResult inspect = run({LRNN_INSPECT_EXE, good_, "--json"}, *dir_);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  const ProcessResult eval =
      run({LRNN_EVAL_EXE, good_, "--trials", "8", "--no-figures", "--out", *dir_ / "eval"}, *dir_);
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
}

TEST_F(BadCheckpoint, MissingDirectoryAndNotHdf5) {
  expect_every_app_refuses(*dir_ / "absent.h5", {"no such file"});
  fs::create_directory(*dir_ / "folder.h5");
  expect_every_app_refuses(*dir_ / "folder.h5", {"is a directory"});
  const std::string text = *dir_ / "notes.h5";
  write_file(text, "step: 100\nthis is not an HDF5 file\n");
  expect_every_app_refuses(text, {"not an HDF5 file"});
}

TEST_F(BadCheckpoint, TruncatedAtSeveralLengths) {
  const std::size_t size = bytes_.size();
  for (const std::size_t length : {std::size_t{0}, std::size_t{8}, std::size_t{100},
                                   std::size_t{1000}, size / 2, size - 10, size - 1}) {
    const std::string path = *dir_ / ("cut_" + std::to_string(length) + ".h5");
    write_file(path, bytes_.substr(0, length));
    expect_every_app_refuses(path, {});
  }
}

// Files on which HDF5 1.10.8 itself crashes, loops or reads out of bounds (found by
// fuzz_checkpoint, fuzz/README.md): the apps read each first in a child process, so they refuse
// it like any other corrupt file.
TEST_F(BadCheckpoint, FilesThatCrashTheHdf5Library) {
  for (const char* name : {"global_heap_memcpy_overlap.h5", "attr_exists_heap_overflow.h5",
                           "open_4gib_malloc.h5", "open_leak.h5"}) {
    expect_every_app_refuses(kDataDir + "/hdf5_crashers/" + name, {});
  }
}

TEST_F(BadCheckpoint, AFileThatHangsTheHdf5LibraryIsRefusedAfterTheTimeLimit) {
  const std::string path = kDataDir + "/hdf5_crashers/global_heap_hang.h5";
  expect_refused(run({LRNN_INSPECT_EXE, path, "--json"}, *dir_),
                 {path, "used 10 s of CPU time without finishing"}, "lrnn-inspect " + path);
}

TEST_F(BadCheckpoint, NewerFormatVersion) {
  const std::string path = copy("newer.h5");
  edit(path, [](H5::H5File& f) {
    f.removeAttr("format_version");
    const int v = 7;
    f.createAttribute("format_version", H5::PredType::NATIVE_INT, H5::DataSpace(H5S_SCALAR))
        .write(H5::PredType::NATIVE_INT, &v);
  });
  expect_every_app_refuses(path, {"format_version 7 is newer than this lrnn supports (1)"});
}

TEST_F(BadCheckpoint, WrongShapes) {
  const std::string m = copy("shape_M.h5");
  edit(m, [](H5::H5File& f) {
    H5::Group params = f.openGroup("params");
    params.unlink("M");
    const hsize_t dims[2] = {24, 3};
    params.createDataSet("M", H5::PredType::NATIVE_FLOAT, H5::DataSpace(2, dims));
  });
  expect_every_app_refuses(m, {"dataset /params/M has shape 24x3, expected 24x2"});

  const std::string c = copy("shape_C.h5");
  edit(c, [](H5::H5File& f) {
    H5::Group fixed = f.openGroup("fixed");
    fixed.unlink("C");
    const hsize_t dims[1] = {576};
    fixed.createDataSet("C", H5::PredType::NATIVE_FLOAT, H5::DataSpace(1, dims));
  });
  expect_every_app_refuses(c, {"dataset /fixed/C has shape 576, expected 24x24"});

  // The attributes claim a larger network than the datasets hold.
  const std::string n = copy("attr_N.h5");
  edit(n, [](H5::H5File& f) {
    f.removeAttr("N");
    const std::int64_t big = 1000000;
    f.createAttribute("N", H5::PredType::NATIVE_INT64, H5::DataSpace(H5S_SCALAR))
        .write(H5::PredType::NATIVE_INT64, &big);
  });
  expect_every_app_refuses(n, {"dataset /params/M has shape 24x2, expected 1000000x2"});

  const std::string missing = copy("missing_v.h5");
  edit(missing, [](H5::H5File& f) { f.openGroup("optimizer").openGroup("v").unlink("w"); });
  expect_every_app_refuses(missing, {"dataset /optimizer/v/w is missing"});

  const std::string attr = copy("missing_attr.h5");
  edit(attr, [](H5::H5File& f) { f.removeAttr("seed"); });
  expect_every_app_refuses(attr, {"attribute seed is missing"});
}

// NaN written by another program that dropped the checksum it could not update (with the checksum
// left in place, FlippedBits applies).
TEST_F(BadCheckpoint, NanParameters) {
  const std::string w = copy("nan_w.h5");
  edit(w, [](H5::H5File& f) {
    H5::DataSet ds = f.openDataSet("/params/w");
    std::vector<float> v(24, 0.5f);
    v[7] = std::numeric_limits<float>::quiet_NaN();
    ds.write(v.data(), H5::PredType::NATIVE_FLOAT);
    ds.removeAttr("crc32");
  });
  expect_every_app_refuses(w, {"/params/w holds NaN or Inf"});

  const std::string c = copy("inf_C.h5");
  edit(c, [](H5::H5File& f) {
    H5::DataSet ds = f.openDataSet("/fixed/C");
    std::vector<float> v(24 * 24, 0.0f);
    v[100] = -std::numeric_limits<float>::infinity();
    ds.write(v.data(), H5::PredType::NATIVE_FLOAT);
    ds.removeAttr("crc32");
  });
  expect_every_app_refuses(c, {"/fixed/C holds NaN or Inf"});
}

// One flipped bit, as a failing disk or memory makes it, in each of /params, /fixed and
// /optimizer: every app refuses the file with exit code 2 and one line naming the dataset.
TEST_F(BadCheckpoint, FlippedBits) {
  struct Flip {
    const char* dataset;
    std::uint64_t byte;
    int bit;
  };
  for (const Flip& flip :
       {Flip{"/params/M", 0, 0}, Flip{"/params/b", 3, 6}, Flip{"/fixed/C", 1000, 4},
        Flip{"/optimizer/v/w", 40, 1}, Flip{"/optimizer/step", 0, 2}}) {
    const std::string path = copy("flipped_" + std::to_string(flip.byte) + ".h5");
    test::flip_bit(path, flip.dataset, flip.byte, flip.bit);
    expect_every_app_refuses(
        path, {std::string("dataset ") + flip.dataset + " fails its checksum (crc32 stored ",
               "the file is corrupt, or was changed by another program"});
  }
}

// A checkpoint written before lrnn stored checksums: every app loads it, with a note on stderr
// (never on stdout, which lrnn-inspect --json keeps for its JSON).
TEST_F(BadCheckpoint, WithoutChecksumsLoadsWithANote) {
  const std::string path = copy("no_checksums.h5");
  test::strip_checksums(path);
  const std::string note = path + ": written without checksums";
  const ProcessResult inspect = run({LRNN_INSPECT_EXE, path, "--json"}, *dir_);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(inspect.out.substr(0, 1), "{");
  EXPECT_NE(inspect.err.find("lrnn-inspect: info: " + note), std::string::npos) << inspect.err;
  const ProcessResult eval = run(
      {LRNN_EVAL_EXE, path, "--trials", "8", "--no-figures", "--out", *dir_ / "eval_old"}, *dir_);
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(eval.err.find(note), std::string::npos) << eval.err;
  const std::string out = *dir_ / "resume_old";
  const ProcessResult train =
      run({LRNN_TRAIN_EXE, *dir_ / "tiny.yaml", "--out", out, "--resume", path}, *dir_);
  EXPECT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(test::read_text(out + "/train.log").find(note), std::string::npos);
}

TEST_F(BadCheckpoint, StoredConfigThatDoesNotLoad) {
  const std::string path = copy("bad_config_yaml.h5");
  edit(path, [](H5::H5File& f) {
    f.removeAttr("config_yaml");
    H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    f.createAttribute("config_yaml", type, H5::DataSpace(H5S_SCALAR))
        .write(type, std::string("rnn:\n  N: [24\n"));
  });
  // One label for the stored config in all three apps (stored_config in io/checkpoint.hpp).
  const std::vector<std::string> parts = {path + ":/config_yaml", "invalid YAML"};
  expect_refused(
      run({LRNN_TRAIN_EXE, *dir_ / "tiny.yaml", "--out", *dir_ / "resume_cy", "--resume", path},
          *dir_),
      parts, "lrnn-train");
  expect_refused(
      run({LRNN_EVAL_EXE, path, "--trials", "8", "--no-figures", "--out", *dir_ / "eval_cy"},
          *dir_),
      parts, "lrnn-eval");
  // lrnn-inspect reads the config only to resample.
  expect_refused(run({LRNN_INSPECT_EXE, path, "--resample", "1", "--trials", "8"}, *dir_), parts,
                 "lrnn-inspect --resample");
}

TEST_F(BadCheckpoint, ResumeWithAnotherConfigNamesTheKey) {
  const std::string config = *dir_ / "tiny.yaml";
  struct Case {
    std::string set, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"training.learning_rate=0.05",
            "the checkpoint was written with another config: '  learning_rate: 0.01' in the "
            "checkpoint vs '  learning_rate: 0.05' now"},
           {"rnn.N=32", "'  N: 24' in the checkpoint vs '  N: 32' now"},
           {"training.precision=float64",
            "'  precision: float32' in the checkpoint vs '  precision: float64' now"},
       }) {
    const std::string out = *dir_ / "resume_other";
    fs::remove_all(out);
    expect_refused(
        run({LRNN_TRAIN_EXE, config, "--out", out, "--set", c.set, "--resume", good_}, *dir_),
        {good_, c.expect}, c.set);
    EXPECT_FALSE(fs::exists(out + "/checkpoints/step_000016.h5"));
  }
  // output.dir alone may differ: the same config resumes (and, at the end already, finishes).
  const ProcessResult same =
      run({LRNN_TRAIN_EXE, config, "--out", *dir_ / "resume_same", "--resume", good_}, *dir_);
  EXPECT_EQ(same.exit_code, 0) << same.err;
}

// ---------------------------------------------------------------------------------------------
// Trials files

class BadTrials : public ::testing::Test {
 protected:
  static constexpr int kTrials = 24;  // 16 train + 8 validation
  static constexpr int kSteps = 40;   // T = 4 at dt = 0.1
  static constexpr int kChannels = 4;

  void SetUp() override {
    write_file(dir_ / "tiny.yaml", kTiny);
    const ProcessResult r = run({LRNN_TRAIN_EXE, dir_ / "tiny.yaml", "--out", dir_ / "good"}, dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ckpt_ = dir_ / "good/final.h5";
  }

  struct Spec {
    std::vector<hsize_t> u_shape = {kTrials, kSteps, kChannels};
    std::vector<double> u;
    std::vector<hsize_t> label_shape = {kTrials};
    std::vector<double> label;
    bool with_u = true;
  };

  static Spec good_spec() {
    Spec s;
    s.u.assign(kTrials * kSteps * kChannels, 0.25);
    for (int j = 0; j < kTrials; ++j) s.label.push_back(j % 2 == 0 ? 1.0 : -1.0);
    return s;
  }

  std::string write_trials(const std::string& name, const Spec& s) const {
    const std::string path = dir_ / name;
    H5::H5File f(path, H5F_ACC_TRUNC);
    if (s.with_u) {
      f.createDataSet("u", H5::PredType::NATIVE_DOUBLE,
                      H5::DataSpace(static_cast<int>(s.u_shape.size()), s.u_shape.data()))
          .write(s.u.data(), H5::PredType::NATIVE_DOUBLE);
    }
    f.createDataSet("label", H5::PredType::NATIVE_DOUBLE,
                    H5::DataSpace(static_cast<int>(s.label_shape.size()), s.label_shape.data()))
        .write(s.label.data(), H5::PredType::NATIVE_DOUBLE);
    return path;
  }

  /// lrnn-train with task.trials_file and lrnn-eval --trials-file both refuse `file`.
  void expect_refused_by_train_and_eval(const std::string& file,
                                        const std::vector<std::string>& parts) {
    static int n = 0;
    const std::string tag = std::to_string(++n);
    std::vector<std::string> expected = parts;
    expected.push_back(file);
    expect_refused(run({LRNN_TRAIN_EXE, dir_ / "tiny.yaml", "--out", dir_ / ("train" + tag),
                        "--set", "task.trials_file=" + file},
                       dir_),
                   expected, "lrnn-train task.trials_file " + file);
    expect_refused(run({LRNN_EVAL_EXE, ckpt_, "--trials-file", file, "--no-figures", "--out",
                        dir_ / ("eval" + tag)},
                       dir_),
                   expected, "lrnn-eval --trials-file " + file);
  }

  ScratchDir dir_{"bad_trials"};
  std::string ckpt_;
};

TEST_F(BadTrials, TheGoodFileTrainsAndEvaluates) {
  const std::string good = write_trials("good.h5", good_spec());
  const ProcessResult t = run({LRNN_TRAIN_EXE, dir_ / "tiny.yaml", "--out", dir_ / "t", "--set",
                               "task.trials_file=" + good},
                              dir_);
  EXPECT_EQ(t.exit_code, 0) << t.err;
  const ProcessResult e =
      run({LRNN_EVAL_EXE, ckpt_, "--trials-file", good, "--no-figures", "--out", dir_ / "e"}, dir_);
  EXPECT_EQ(e.exit_code, 0) << e.err;
}

TEST_F(BadTrials, WrongShapes) {
  Spec rank2 = good_spec();
  rank2.u_shape = {kTrials, kSteps * kChannels};
  expect_refused_by_train_and_eval(write_trials("rank2.h5", rank2),
                                   {"/u has shape 24x160 but must be trials x K x d_in (rank 3)"});

  Spec labels = good_spec();
  labels.label_shape = {kTrials - 1};
  labels.label.pop_back();
  expect_refused_by_train_and_eval(write_trials("labels.h5", labels),
                                   {"/label has 23 entries but /u has 24 trials"});

  Spec no_u = good_spec();
  no_u.with_u = false;
  expect_refused_by_train_and_eval(write_trials("no_u.h5", no_u), {"/u is missing"});
}

TEST_F(BadTrials, NanAndBadLabels) {
  Spec u_nan = good_spec();
  u_nan.u[(3 * kSteps + 17) * kChannels + 0] = std::nan("");
  expect_refused_by_train_and_eval(write_trials("u_nan.h5", u_nan), {"/u[3, 17, 0] is NaN"});

  Spec label_nan = good_spec();
  label_nan.label[2] = std::nan("");
  expect_refused_by_train_and_eval(write_trials("label_nan.h5", label_nan),
                                   {"/label[2] = nan must be -1 or +1"});
}

TEST_F(BadTrials, MissingAndNotHdf5) {
  expect_refused_by_train_and_eval(dir_ / "absent.h5", {"no such file"});
  write_file(dir_ / "trials.csv", "u,label\n0.1,1\n");
  expect_refused_by_train_and_eval(dir_ / "trials.csv", {"not an HDF5 file"});
}

}  // namespace
}  // namespace lrnn
