// Tests of the YAML config: loading, defaults, every class of error with its file:line, overrides
// from --set, validation of configs built in code, and the exact round trip through to_yaml.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"

namespace lrnn {
namespace {

const std::string kConfigDir = std::string(LRNN_TEST_DATA_DIR) + "/configs/";

/// Runs `f` and returns the ConfigError message; records a failure if it does not throw one.
std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

std::string parse_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return config_error([&] { parse_config(text, "test.yaml", overrides); });
}

/// Every field, compared exactly (doubles too: the round trip must be bit-exact in value).
void expect_same(const Config& a, const Config& b) {
  EXPECT_EQ(a.rnn.N, b.rnn.N);
  EXPECT_EQ(a.rnn.R, b.rnn.R);
  EXPECT_EQ(a.rnn.g, b.rnn.g);
  EXPECT_EQ(a.rnn.tau, b.rnn.tau);
  EXPECT_EQ(a.rnn.d_in, b.rnn.d_in);
  EXPECT_EQ(a.rnn.M_init_std, b.rnn.M_init_std);
  EXPECT_EQ(a.rnn.N_init_std, b.rnn.N_init_std);
  EXPECT_EQ(a.rnn.B_init_std, b.rnn.B_init_std);
  EXPECT_EQ(a.rnn.w_init_std, b.rnn.w_init_std);
  EXPECT_EQ(a.rnn.noise_std, b.rnn.noise_std);

  EXPECT_EQ(a.task.T_burn, b.task.T_burn);
  EXPECT_EQ(a.task.T_stim, b.task.T_stim);
  EXPECT_EQ(a.task.T_avg, b.task.T_avg);
  EXPECT_EQ(a.task.stim_mean_abs, b.task.stim_mean_abs);
  EXPECT_EQ(a.task.stim_std, b.task.stim_std);
  EXPECT_EQ(a.task.gamma_on, b.task.gamma_on);
  EXPECT_EQ(a.task.gamma_off, b.task.gamma_off);
  EXPECT_EQ(a.task.coherences, b.task.coherences);
  EXPECT_EQ(a.task.input_noise_std, b.task.input_noise_std);
  EXPECT_EQ(a.task.noise_dt, b.task.noise_dt);
  EXPECT_EQ(a.task.label_type, b.task.label_type);
  EXPECT_EQ(a.task.trials_file, b.task.trials_file);

  EXPECT_EQ(a.integrator.method, b.integrator.method);
  EXPECT_EQ(a.integrator.gradient, b.integrator.gradient);
  EXPECT_EQ(a.integrator.dt, b.integrator.dt);
  EXPECT_EQ(a.integrator.rtol, b.integrator.rtol);
  EXPECT_EQ(a.integrator.atol, b.integrator.atol);
  EXPECT_EQ(a.integrator.dt_min, b.integrator.dt_min);
  EXPECT_EQ(a.integrator.max_steps, b.integrator.max_steps);
  EXPECT_EQ(a.integrator.checkpoints, b.integrator.checkpoints);

  EXPECT_EQ(a.training.seed, b.training.seed);
  EXPECT_EQ(a.training.precision, b.training.precision);
  EXPECT_EQ(a.training.batch_size, b.training.batch_size);
  EXPECT_EQ(a.training.n_train_trials, b.training.n_train_trials);
  EXPECT_EQ(a.training.n_val_trials, b.training.n_val_trials);
  EXPECT_EQ(a.training.n_epochs, b.training.n_epochs);
  EXPECT_EQ(a.training.balanced_batches, b.training.balanced_batches);
  EXPECT_EQ(a.training.val_recurrent_noise, b.training.val_recurrent_noise);
  EXPECT_EQ(a.training.learning_rate, b.training.learning_rate);
  EXPECT_EQ(a.training.lr_schedule, b.training.lr_schedule);
  EXPECT_EQ(a.training.lr_final_fraction, b.training.lr_final_fraction);
  EXPECT_EQ(a.training.adam.beta1, b.training.adam.beta1);
  EXPECT_EQ(a.training.adam.beta2, b.training.adam.beta2);
  EXPECT_EQ(a.training.adam.eps, b.training.adam.eps);
  EXPECT_EQ(a.training.grad_clip, b.training.grad_clip);
  EXPECT_EQ(a.training.weight_decay, b.training.weight_decay);
  EXPECT_EQ(a.training.train_M, b.training.train_M);
  EXPECT_EQ(a.training.train_N, b.training.train_N);
  EXPECT_EQ(a.training.train_B, b.training.train_B);
  EXPECT_EQ(a.training.train_w, b.training.train_w);
  EXPECT_EQ(a.training.train_b, b.training.train_b);
  EXPECT_EQ(a.training.eval_every, b.training.eval_every);
  EXPECT_EQ(a.training.save_every, b.training.save_every);
  EXPECT_EQ(a.training.on_nan, b.training.on_nan);
  EXPECT_EQ(a.training.threads, b.training.threads);
  EXPECT_EQ(a.training.stop_at_val_accuracy, b.training.stop_at_val_accuracy);
  EXPECT_EQ(a.training.stop_patience, b.training.stop_patience);
  EXPECT_EQ(a.training.input_noise_ramp_from, b.training.input_noise_ramp_from);
  EXPECT_EQ(a.training.input_noise_ramp_begin, b.training.input_noise_ramp_begin);
  EXPECT_EQ(a.training.input_noise_ramp_end, b.training.input_noise_ramp_end);

  EXPECT_EQ(a.output.dir, b.output.dir);
}

/// A valid config in which every field differs from its default, with values chosen to be hard
/// to print: 0.1 + 0.2, 1/3, tiny and huge magnitudes, the largest seed, a string that needs
/// escapes.
Config unusual_config() {
  Config c;
  c.rnn.N = 7;
  c.rnn.R = 3;
  c.rnn.g = 0.1 + 0.2;
  c.rnn.tau = 1.0 / 3.0;
  c.rnn.d_in = 5;
  c.rnn.M_init_std = 1e-300;
  c.rnn.N_init_std = 2.5e300;
  c.rnn.B_init_std = 0.0;
  c.rnn.w_init_std = 123456789.123456789;
  c.task.T_burn = 0.0;
  c.task.T_stim = 12.5;
  c.task.T_avg = 2.5;
  c.task.stim_mean_abs = 0.7;
  c.task.stim_std = 0.05;
  c.task.gamma_on = -1.0 / 7.0;
  c.task.gamma_off = 2.0 / 3.0;
  c.task.coherences = {1.0 / 3.0, 0.1 + 0.2, 1e-300, 5.0};
  c.task.input_noise_std = 0.25;
  c.task.noise_dt = 1.25;
  c.task.label_type = LabelType::kBinary;
  c.task.trials_file = "data/trials \"a\": #1\\x\t.h5";
  c.integrator.method = Method::kRk45;
  c.integrator.gradient = GradientKind::kAdjoint;
  c.integrator.dt = 0.25;
  c.integrator.rtol = 1.0 / 3.0 * 1e-5;
  c.integrator.atol = 7e-11;
  c.integrator.dt_min = 1e-12;
  c.integrator.max_steps = 2147483647;
  c.integrator.checkpoints = 3;
  c.training.seed = std::numeric_limits<std::uint64_t>::max();
  c.training.precision = Precision::kFloat64;
  c.training.batch_size = 5;
  c.training.n_train_trials = 17;
  c.training.n_val_trials = 3;
  c.training.n_epochs = 4;
  c.training.balanced_batches = false;
  c.training.val_recurrent_noise = false;
  c.training.learning_rate = 3e-4;
  c.training.lr_schedule = LrSchedule::kConstant;
  c.training.lr_final_fraction = 1.0;
  c.training.adam.beta1 = 0.0;
  c.training.adam.beta2 = 0.9999999999999999;
  c.training.adam.eps = 1e-15;
  c.training.grad_clip = 0.0;
  c.training.weight_decay = 1e-4;
  c.training.train_M = false;
  c.training.train_N = false;
  c.training.train_B = false;
  c.training.train_w = false;
  c.training.train_b = true;
  c.training.eval_every = 1;
  c.training.save_every = 9;
  c.training.on_nan = OnNan::kSkip;
  c.training.threads = 12;
  c.training.stop_at_val_accuracy = 0.75;
  c.training.stop_patience = 3;
  c.output.dir = "runs/ünïcode dir: 'x'";
  return c;
}

// -------------------------------------------------------------------------------------------
// Good files and defaults

TEST(Config, GoodFileLoadsWithExpectedValues) {
  const std::string path = kConfigDir + "good_small.yaml";
  const Config c = load_config(path);
  EXPECT_EQ(c.source, path);
  EXPECT_EQ(c.rnn.N, 64);
  EXPECT_EQ(c.rnn.R, 2);
  EXPECT_EQ(c.rnn.g, 0.8);
  EXPECT_EQ(c.task.T_burn, 5.0);
  EXPECT_EQ(c.task.T_stim, 20.0);
  EXPECT_EQ(c.task.T_avg, 5.0);
  EXPECT_EQ(c.task.coherences, (std::vector<double>{0.1, 0.5, 1.2}));
  EXPECT_EQ(c.integrator.method, Method::kEuler);
  EXPECT_EQ(c.integrator.dt, 0.2);
  EXPECT_EQ(c.training.seed, 7u);
  EXPECT_EQ(c.training.precision, Precision::kFloat64);
  EXPECT_EQ(c.training.batch_size, 16);
  EXPECT_EQ(c.training.n_train_trials, 256);
  EXPECT_EQ(c.training.n_epochs, 2);
  EXPECT_EQ(c.training.total_steps(), 32);
  EXPECT_EQ(c.training.learning_rate, 0.005);
  EXPECT_EQ(c.training.lr_schedule, LrSchedule::kConstant);
  EXPECT_FALSE(c.training.train_B);
  EXPECT_TRUE(c.training.train_M);
  EXPECT_EQ(c.training.threads, 1);
  EXPECT_EQ(c.output.dir, "runs/good_small");
  // Keys the file does not set keep their defaults.
  const Config defaults;
  EXPECT_EQ(c.rnn.M_init_std, defaults.rnn.M_init_std);
  EXPECT_EQ(c.task.gamma_off, defaults.task.gamma_off);
  EXPECT_EQ(c.integrator.rtol, defaults.integrator.rtol);
  EXPECT_EQ(c.training.adam.beta2, defaults.training.adam.beta2);
  EXPECT_EQ(c.training.on_nan, OnNan::kStop);
}

TEST(Config, DefaultsMatchTheHeaderAndValidate) {
  const Config c;
  EXPECT_EQ(c.rnn.N, 500);
  EXPECT_EQ(c.rnn.R, 2);
  EXPECT_EQ(c.task.T(), 100.0);
  EXPECT_EQ(c.integrator.dt, 0.1);
  EXPECT_EQ(c.training.total_steps(), 312);
  EXPECT_NO_THROW(validate(c));
}

TEST(Config, MissingKeysKeepDefaults) {
  const Config defaults;
  expect_same(parse_config("", "empty text"), defaults);
  expect_same(parse_config("# only a comment\n", "comment"), defaults);
  expect_same(parse_config("rnn:\ntask:\n", "empty sections"), defaults);
  const Config c = parse_config("name: x\ndescription: y\nrnn:\n  N: 10\n", "one key");
  EXPECT_EQ(c.rnn.N, 10);
  EXPECT_EQ(c.rnn.R, defaults.rnn.R);
  EXPECT_EQ(c.source, "one key");
}

TEST(Config, AcceptedSpellings) {
  const Config c = parse_config(
      "training:\n  n_train_trials: 1e4\n  seed: 18446744073709551615\n  train_M: False\n"
      "  learning_rate: +5e-3\ntask:\n  coherences: []\n  trials_file:\n"
      "rnn:\n  N: +20\n  g: 1\n  # a comment\n  R: 2   \t# a tab before a comment is fine\n",
      "spellings");
  EXPECT_EQ(c.training.n_train_trials, 10000);
  EXPECT_EQ(c.training.seed, std::numeric_limits<std::uint64_t>::max());
  EXPECT_FALSE(c.training.train_M);
  EXPECT_EQ(c.training.learning_rate, 5e-3);
  EXPECT_TRUE(c.task.coherences.empty());
  EXPECT_EQ(c.task.trials_file, "");
  EXPECT_EQ(c.rnn.N, 20);
  EXPECT_EQ(c.rnn.g, 1.0);
  EXPECT_EQ(c.rnn.R, 2);
}

// -------------------------------------------------------------------------------------------
// The corpus of bad files: each names the file, the line and the key.

struct BadFile {
  const char* file;
  int line;
  const char* key;   // key path (or other text) the message must name
  const char* rule;  // part of the rule the message must state
};

class BadConfigFile : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadConfigFile, ThrowsConfigErrorWithFileLineAndKey) {
  const BadFile& bad = GetParam();
  const std::string path = kConfigDir + bad.file;
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const std::string message = config_error([&] { load_config(path); });
  EXPECT_EQ(message.rfind(path + ":" + std::to_string(bad.line) + ": ", 0), 0u) << message;
  EXPECT_NE(message.find(bad.key), std::string::npos) << message;
  EXPECT_NE(message.find(bad.rule), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
}

const BadFile kBadFiles[] = {
    {"bad_tab.yaml", 4, "tab", "indentation"},
    {"bad_unclosed.yaml", 5, "'['", "end of sequence flow not found"},
    {"bad_duplicate.yaml", 5, "'rnn.N'", "duplicate key 'rnn.N' (first at line 2)"},
    {"bad_unknown_key.yaml", 3, "'rnn.NN'", "(did you mean 'rnn.N'?)"},
    {"bad_unknown_section.yaml", 3, "'trainig'", "(did you mean 'training'?)"},
    {"bad_section_not_map.yaml", 3, "integrator = euler", "must be a map"},
    {"bad_not_a_map.yaml", 1, "[rnn, task]", "must be a map of sections"},
    {"bad_two_documents.yaml", 4, "'---'", "more than one YAML document"},
    {"bad_type.yaml", 3, "rnn.N = abc", "must be an integer"},
    {"bad_int_given_float.yaml", 3, "rnn.R = 2.5", "must be an integer"},
    {"bad_bool.yaml", 3, "training.train_N = yes", "must be true or false"},
    {"bad_enum.yaml", 2, "integrator.method = rk4", "must be euler, rk45 or tsit5"},
    {"bad_coherences_not_list.yaml", 2, "task.coherences = 0.5", "must be a list of numbers"},
    {"bad_coherence_le_0.yaml", 5, "task.coherences[2] = -0.2", "must be > 0"},
    {"bad_range_N.yaml", 2, "rnn.N = 0", "must be >= 1"},
    {"bad_R_gt_N.yaml", 3, "rnn.R = 5", "must be <= rnn.N (4)"},
    {"bad_dt_le_0.yaml", 3, "integrator.dt = 0", "must be > 0"},
    {"bad_T_not_multiple_of_dt.yaml", 5, "integrator.dt = 0.3", "T = task.T_burn + task.T_stim"},
    {"bad_T_avg_gt_T_stim.yaml", 4, "task.T_avg = 25", "must be <= task.T_stim (20)"},
    {"bad_noise_dt.yaml", 3, "task.noise_dt = 0.25", "multiple of integrator.dt (0.1)"},
    {"bad_rtol.yaml", 4, "integrator.rtol = -1", "must be > 0"},
    {"bad_batch_0.yaml", 3, "training.batch_size = 0", "must be >= 1"},
    {"bad_n_train_lt_batch.yaml", 3, "training.n_train_trials = 32",
     "must be >= training.batch_size (64)"},
    {"bad_lr_le_0.yaml", 3, "training.learning_rate = -0.01", "must be > 0"},
    {"bad_beta1.yaml", 2, "training.adam_beta1 = 1", "must be in [0, 1)"},
    {"bad_nothing_trained.yaml", 2, "training.train_", "at least one parameter group"},
    {"bad_output_dir_empty.yaml", 2, "output.dir = \"\"", "must not be empty"},
    // From fuzzing the loader (fuzz/, scripts/run_fuzz.sh): each of these crashed or hung it.
    {"bad_alias_cycle.yaml", 4, "rnn.N = [[[[", "must be an integer"},
    {"bad_alias_bomb.yaml", 4, "rnn.N = [[x, x, x", "must be an integer"},
    {"bad_stray_comma.yaml", 3, "','", "cannot start a value (column 14)"},
};

std::string bad_file_name(const ::testing::TestParamInfo<BadFile>& info) {
  std::string name = info.param.file;
  name = name.substr(0, name.find('.'));
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadConfigFile, ::testing::ValuesIn(kBadFiles), bad_file_name);

TEST(Config, EveryBadFileInTheCorpusIsCovered) {
  std::set<std::string> covered;
  for (const BadFile& bad : kBadFiles) covered.insert(bad.file);
  for (const auto& entry : std::filesystem::directory_iterator(kConfigDir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("bad_", 0) == 0) {
      EXPECT_TRUE(covered.count(name)) << name << " is not tested";
    }
  }
}

// -------------------------------------------------------------------------------------------
// Files that cannot be read

TEST(ConfigFile, EmptyFileIsAnError) {
  const std::string path = kConfigDir + "empty.yaml";
  const std::string message = config_error([&] { load_config(path); });
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
  EXPECT_NE(message.find("empty"), std::string::npos) << message;
}

TEST(ConfigFile, MissingFileIsAnError) {
  const std::string path = kConfigDir + "does_not_exist.yaml";
  const std::string message = config_error([&] { load_config(path); });
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
  EXPECT_NE(message.find("no such"), std::string::npos) << message;
}

TEST(ConfigFile, DirectoryIsAnError) {
  const std::string message = config_error([&] { load_config(kConfigDir); });
  EXPECT_EQ(message.rfind(kConfigDir + ": ", 0), 0u) << message;
  EXPECT_NE(message.find("directory"), std::string::npos) << message;
}

TEST(ConfigFile, UnreadableFileIsAnError) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("lrnn_test_config_unreadable_" + std::to_string(::getpid()) + ".yaml");
  { std::ofstream(path) << "rnn:\n  N: 3\n"; }
  std::filesystem::permissions(path, std::filesystem::perms::none);
  const bool readable = static_cast<bool>(std::ifstream(path));
  if (!readable) {
    const std::string message = config_error([&] { load_config(path.string()); });
    EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << message;
    EXPECT_NE(message.find("cannot"), std::string::npos) << message;
  }
  std::filesystem::remove(path);
  if (readable) GTEST_SKIP() << "running with privileges that read any file";
}

// -------------------------------------------------------------------------------------------
// Errors from text: types, structure, suggestions

TEST(ConfigText, WrongTypesNameKeyAndValue) {
  EXPECT_EQ(parse_error("rnn:\n  N: abc\n"), "test.yaml:2: rnn.N = abc: must be an integer");
  EXPECT_EQ(parse_error("rnn:\n  N: 2.5\n"), "test.yaml:2: rnn.N = 2.5: must be an integer");
  EXPECT_EQ(parse_error("rnn:\n  N: \"3\"\n"), "test.yaml:2: rnn.N = \"3\": must be an integer");
  EXPECT_EQ(parse_error("rnn:\n  N:\n"), "test.yaml:2: rnn.N = (empty): must be an integer");
  EXPECT_EQ(parse_error("rnn:\n  N: [1, 2]\n"), "test.yaml:2: rnn.N = [1, 2]: must be an integer");
  EXPECT_EQ(parse_error("rnn:\n  N: 3000000000\n"),
            "test.yaml:2: rnn.N = 3000000000: must be an integer in [-2147483648, 2147483647]");
  EXPECT_EQ(parse_error("training:\n  seed: -1\n"),
            "test.yaml:2: training.seed = -1: must be an integer in [0, 18446744073709551615]");
  EXPECT_EQ(parse_error("rnn:\n  g: fast\n"), "test.yaml:2: rnn.g = fast: must be a number");
  EXPECT_EQ(parse_error("rnn:\n  g: .inf\n"), "test.yaml:2: rnn.g = .inf: must be a finite number");
  EXPECT_EQ(parse_error("training:\n  train_M: 1\n"),
            "test.yaml:2: training.train_M = 1: must be true or false");
  EXPECT_EQ(parse_error("training:\n  train_M: on\n"),
            "test.yaml:2: training.train_M = on: must be true or false");
  EXPECT_EQ(parse_error("integrator:\n  method: Euler\n"),
            "test.yaml:2: integrator.method = Euler: must be euler, rk45 or tsit5");
  EXPECT_EQ(parse_error("training:\n  precision: double\n"),
            "test.yaml:2: training.precision = double: must be float32, float64 or bf16");
  EXPECT_EQ(parse_error("output:\n  dir: {a: 1}\n"),
            "test.yaml:2: output.dir = {a: 1}: must be a string");
  EXPECT_EQ(parse_error("task:\n  coherences: [0.1, x]\n"),
            "test.yaml:2: task.coherences[1] = x: must be a number");
  EXPECT_EQ(parse_error("name: [a]\n"), "test.yaml:1: name = [a]: must be a string");
}

TEST(ConfigText, StructureErrors) {
  EXPECT_EQ(parse_error("rnn:\n  N: 3\nrnn:\n  R: 1\n"),
            "test.yaml:3: duplicate key 'rnn' (first at line 1)");
  EXPECT_EQ(parse_error("rnn.N: 5\n"),
            "test.yaml:1: key 'rnn.N' must be written under its section: 'rnn:' then an indented "
            "'N: ...'");
  EXPECT_EQ(parse_error("rnn: 5\n"),
            "test.yaml:1: rnn = 5: a section must be a map of keys (e.g. 'rnn:' then indented "
            "'key: value' lines)");
  EXPECT_EQ(parse_error("42\n"),
            "test.yaml:1: the config must be a map of sections (rnn, task, integrator, training, "
            "output), not 42");
  EXPECT_EQ(parse_error("rnn:\n\tN: 3\n"),
            "test.yaml:2: tab character in indentation (YAML indents with spaces only)");
  EXPECT_EQ(parse_error("rnn: {N: 3\n"),
            "test.yaml:1: invalid YAML: end of map flow not found ('{' at column 6 is never "
            "closed)");
  const std::string message = parse_error("rnn:\n  N: 3\n   R: 2\n");
  EXPECT_EQ(message.rfind("test.yaml:3: invalid YAML: ", 0), 0u) << message;
}

TEST(ConfigText, UnknownKeysSuggestTheClosestKey) {
  EXPECT_EQ(parse_error("rnn:\n  NN: 3\n"),
            "test.yaml:2: unknown key 'rnn.NN' (did you mean 'rnn.N'?)");
  EXPECT_EQ(parse_error("training:\n  learning_rte: 0.1\n"),
            "test.yaml:2: unknown key 'training.learning_rte' (did you mean "
            "'training.learning_rate'?)");
  EXPECT_EQ(parse_error("rnn:\n  dt: 0.1\n"),
            "test.yaml:2: unknown key 'rnn.dt' (did you mean 'integrator.dt'?)");
  EXPECT_EQ(parse_error("training:\n  train_n: true\n"),
            "test.yaml:2: unknown key 'training.train_n' (did you mean 'training.train_N'?)");
  EXPECT_EQ(parse_error("integrater:\n  dt: 0.1\n"),
            "test.yaml:1: unknown key 'integrater' (did you mean 'integrator'?)");
  // Nothing close: the valid keys are listed instead.
  EXPECT_EQ(parse_error("output:\n  zzzzzz: 1\n"),
            "test.yaml:2: unknown key 'output.zzzzzz' (valid keys in output: dir)");
  EXPECT_EQ(parse_error("zzzzzzzz: 1\n"),
            "test.yaml:1: unknown key 'zzzzzzzz' (valid sections: rnn task integrator training "
            "output)");
}

TEST(ConfigText, RangeErrorsCarryTheLineOfTheKey) {
  EXPECT_EQ(parse_error("# comment\n\nintegrator:\n  method: rk45\n  rtol: -1\n"),
            "test.yaml:5: integrator.rtol = -1: must be > 0");
  // A relation blames a key the file sets when the named one comes from the defaults.
  EXPECT_EQ(parse_error("task:\n  T_stim: 85.05\n"),
            "test.yaml:2: integrator.dt = 0.1: must divide the trial length T = task.T_burn + "
            "task.T_stim = 100.05");
  EXPECT_EQ(parse_error("rnn:\n  N: 1\n"), "test.yaml:2: rnn.R = 2: must be <= rnn.N (1)");
  // A value from --set is located there, not in the file.
  EXPECT_EQ(config_error([] {
              parse_config("rnn:\n  N: 1\n", "x.yaml", {"rnn.R=1", "rnn.N=0"});
            }),
            "(--set): rnn.N = 0: must be >= 1");
}

// -------------------------------------------------------------------------------------------
// Overrides (--set)

TEST(ConfigOverrides, ApplyEveryKindOfValue) {
  const Config c = load_config(
      kConfigDir + "good_small.yaml",
      {"training.learning_rate=0.05", "training.train_M=false", "task.coherences=[0.2, 0.4]",
       "integrator.method=rk45", "integrator.gradient = adjoint", "output.dir=runs/other",
       "rnn.N=32", "training.seed=12345678901234", "task.label_type=binary", "training.on_nan=skip",
       "training.precision=float32"});
  EXPECT_EQ(c.training.learning_rate, 0.05);
  EXPECT_FALSE(c.training.train_M);
  EXPECT_EQ(c.task.coherences, (std::vector<double>{0.2, 0.4}));
  EXPECT_EQ(c.integrator.method, Method::kRk45);
  EXPECT_EQ(c.integrator.gradient, GradientKind::kAdjoint);
  EXPECT_EQ(c.output.dir, "runs/other");
  EXPECT_EQ(c.rnn.N, 32);  // overrides the file's 64
  EXPECT_EQ(c.training.seed, 12345678901234u);
  EXPECT_EQ(c.task.label_type, LabelType::kBinary);
  EXPECT_EQ(c.training.on_nan, OnNan::kSkip);
  EXPECT_EQ(c.training.precision, Precision::kFloat32);
  EXPECT_EQ(c.rnn.R, 2);  // untouched keys keep the file's values
}

TEST(ConfigOverrides, LaterOverrideWinsAndSectionsAreCreated) {
  const Config c = parse_config("", "x.yaml", {"rnn.N=10", "rnn.N=20", "output.dir=a"});
  EXPECT_EQ(c.rnn.N, 20);
  EXPECT_EQ(c.output.dir, "a");
}

TEST(ConfigOverrides, Errors) {
  EXPECT_EQ(parse_error("", {"rnn.NN=3"}), "(--set): unknown key 'rnn.NN' (did you mean 'rnn.N'?)");
  EXPECT_EQ(parse_error("", {"N=3"}), "(--set): unknown key 'N' (did you mean 'rnn.N'?)");
  const std::string no_eq = parse_error("", {"training.learning_rate"});
  EXPECT_EQ(no_eq.rfind("(--set): 'training.learning_rate' is not of the form key.path=value", 0),
            0u)
      << no_eq;
  EXPECT_EQ(parse_error("", {"=3"}).rfind("(--set): '=3' is not of the form", 0), 0u);
  EXPECT_EQ(parse_error("", {"rnn.N=abc"}), "(--set): rnn.N = abc: must be an integer");
  EXPECT_EQ(parse_error("", {"training.learning_rate=-1"}),
            "(--set): training.learning_rate = -1: must be > 0");
  EXPECT_EQ(parse_error("", {"task.coherences=[0.1, -1]"}),
            "(--set): task.coherences[1] = -1: must be > 0");
  EXPECT_EQ(parse_error("", {"task.coherences=[0.1,"})
                .rfind("(--set): task.coherences = [0.1,: not a valid YAML value", 0),
            0u);
  EXPECT_EQ(parse_error("", {"rnn=3"}).rfind("(--set): 'rnn' is a section", 0), 0u);
}

// -------------------------------------------------------------------------------------------
// to_yaml and the round trip

TEST(ConfigYaml, RoundTripIsExact) {
  // unusual_config() keeps train_b = true (one group must train); the last one flips the flags.
  Config flags = unusual_config();
  flags.training.train_M = true;
  flags.training.train_b = false;
  Config noisy;  // Euler-Maruyama: the unusual config's rk45 refuses recurrent noise
  noisy.rnn.noise_std = 1.0 / 3.0;
  Config curriculum;  // the curriculum needs input noise and no trials file (unusual has one)
  curriculum.task.input_noise_std = 0.5;
  curriculum.training.input_noise_ramp_from = 0.1 + 0.2;
  curriculum.training.input_noise_ramp_begin = 7;
  curriculum.training.input_noise_ramp_end = 2147483647;
  for (const Config& original : {Config{}, load_config(kConfigDir + "good_small.yaml"),
                                 unusual_config(), flags, noisy, curriculum}) {
    const std::string text = to_yaml(original);
    SCOPED_TRACE(text);
    const Config back = parse_config(text, "round trip");
    expect_same(back, original);
    EXPECT_EQ(to_yaml(back), text);
  }
}

TEST(ConfigYaml, UnusualConfigDiffersFromDefaultsEverywhere) {
  // So that the round trip above would catch a key that to_yaml forgot to write.
  const std::string unusual = to_yaml(unusual_config());
  const std::string defaults = to_yaml(Config{});
  std::istringstream a(unusual);
  std::istringstream b(defaults);
  std::string line_a;
  std::string line_b;
  int keys = 0;
  while (std::getline(a, line_a) && std::getline(b, line_b)) {
    if (line_a.rfind("  ", 0) != 0) continue;  // section headers
    ++keys;
    if (line_a == "  train_b: true") continue;   // one group must train; see RoundTripIsExact
    if (line_a == "  noise_std: 0.0") continue;  // rk45 refuses noise; see RoundTripIsExact
    // The curriculum needs the generator; the unusual config has a trials file (RoundTripIsExact).
    if (line_a.rfind("  input_noise_ramp_", 0) == 0) continue;
    EXPECT_NE(line_a, line_b);
  }
  EXPECT_EQ(keys, 61);
}

TEST(ConfigYaml, WritesEveryKeyInSectionOrder) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"rnn",
       {"N", "R", "g", "tau", "d_in", "M_init_std", "N_init_std", "B_init_std", "w_init_std",
        "noise_std"}},
      {"task",
       {"T_burn", "T_stim", "T_avg", "stim_mean_abs", "stim_std", "gamma_on", "gamma_off",
        "coherences", "input_noise_std", "noise_dt", "label_type", "trials_file"}},
      {"integrator",
       {"method", "gradient", "dt", "rtol", "atol", "dt_min", "max_steps", "checkpoints"}},
      {"training",
       {"seed",
        "precision",
        "batch_size",
        "n_train_trials",
        "n_val_trials",
        "n_epochs",
        "balanced_batches",
        "learning_rate",
        "lr_schedule",
        "lr_final_fraction",
        "adam_beta1",
        "adam_beta2",
        "adam_eps",
        "grad_clip",
        "weight_decay",
        "train_M",
        "train_N",
        "train_B",
        "train_w",
        "train_b",
        "eval_every",
        "save_every",
        "on_nan",
        "threads",
        "stop_at_val_accuracy",
        "stop_patience",
        "val_recurrent_noise",
        "input_noise_ramp_from",
        "input_noise_ramp_begin",
        "input_noise_ramp_end"}},
      {"output", {"dir"}},
  };
  const YAML::Node doc = YAML::Load(to_yaml(Config{}));
  ASSERT_TRUE(doc.IsMap());
  ASSERT_EQ(doc.size(), expected.size());
  auto section_it = doc.begin();
  for (const auto& [section, keys] : expected) {
    EXPECT_EQ(section_it->first.Scalar(), section);
    const YAML::Node map = section_it->second;
    ASSERT_TRUE(map.IsMap()) << section;
    ASSERT_EQ(map.size(), keys.size()) << section;
    auto key_it = map.begin();
    for (const auto& key : keys) {
      EXPECT_EQ(key_it->first.Scalar(), key) << section;
      ++key_it;
    }
    ++section_it;
  }
  // Every key is also accepted by --set.
  for (const auto& [section, keys] : expected) {
    for (const auto& key : keys) {
      const std::string path = section + "." + key;
      const std::string message = config_error([&] { parse_config("", "x", {path + "=[[]]"}); });
      EXPECT_EQ(message.find("unknown key"), std::string::npos) << message;
    }
  }
}

TEST(ConfigYaml, NumbersArePrintedShortAndAsFloats) {
  const std::string text = to_yaml(Config{});
  EXPECT_NE(text.find("  dt: 0.1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  g: 0.8\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  T_burn: 15.0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  rtol: 1.0e-06\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  N: 500\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  method: euler\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  train_M: true\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  coherences: []\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  dir: \"runs/default\"\n"), std::string::npos) << text;
  Config c;
  c.rnn.g = 0.1 + 0.2;
  EXPECT_NE(to_yaml(c).find("  g: 0.30000000000000004\n"), std::string::npos);
}

TEST(ConfigYaml, EnumNames) {
  EXPECT_STREQ(to_string(Method::kEuler), "euler");
  EXPECT_STREQ(to_string(Method::kRk45), "rk45");
  EXPECT_STREQ(to_string(Method::kTsit5), "tsit5");
  EXPECT_STREQ(to_string(GradientKind::kBptt), "bptt");
  EXPECT_STREQ(to_string(GradientKind::kAdjoint), "adjoint");
  EXPECT_STREQ(to_string(Precision::kFloat32), "float32");
  EXPECT_STREQ(to_string(Precision::kFloat64), "float64");
  EXPECT_STREQ(to_string(LrSchedule::kConstant), "constant");
  EXPECT_STREQ(to_string(LrSchedule::kCosine), "cosine");
  EXPECT_STREQ(to_string(LabelType::kPm1), "pm1");
  EXPECT_STREQ(to_string(LabelType::kBinary), "binary");
  EXPECT_STREQ(to_string(OnNan::kStop), "stop");
  EXPECT_STREQ(to_string(OnNan::kSkip), "skip");
}

// -------------------------------------------------------------------------------------------
// validate on configs built in code

struct Rule {
  const char* name;
  std::function<void(Config&)> change;
  const char* message;  // the whole message for a config without a source
};

class ValidateRule : public ::testing::TestWithParam<Rule> {};

TEST_P(ValidateRule, RejectsTheBrokenRule) {
  Config c;
  GetParam().change(c);
  EXPECT_EQ(config_error([&] { validate(c); }), GetParam().message);
  c.source = "code.yaml";
  EXPECT_EQ(config_error([&] { validate(c); }), std::string("code.yaml: ") + GetParam().message);
}

const Rule kRules[] = {
    {"N", [](Config& c) { c.rnn.N = 0; }, "rnn.N = 0: must be >= 1"},
    {"R_zero", [](Config& c) { c.rnn.R = 0; }, "rnn.R = 0: must be >= 1"},
    {"R_gt_N",
     [](Config& c) {
       c.rnn.N = 3;
       c.rnn.R = 4;
     },
     "rnn.R = 4: must be <= rnn.N (3)"},
    {"g", [](Config& c) { c.rnn.g = -0.5; }, "rnn.g = -0.5: must be >= 0"},
    {"tau", [](Config& c) { c.rnn.tau = 0.0; }, "rnn.tau = 0: must be > 0"},
    {"d_in", [](Config& c) { c.rnn.d_in = 0; }, "rnn.d_in = 0: must be >= 1"},
    {"M_init_std", [](Config& c) { c.rnn.M_init_std = -1; }, "rnn.M_init_std = -1: must be >= 0"},
    {"N_init_std", [](Config& c) { c.rnn.N_init_std = -1; }, "rnn.N_init_std = -1: must be >= 0"},
    {"B_init_std", [](Config& c) { c.rnn.B_init_std = -1; }, "rnn.B_init_std = -1: must be >= 0"},
    {"w_init_std", [](Config& c) { c.rnn.w_init_std = -1; }, "rnn.w_init_std = -1: must be >= 0"},
    {"T_burn", [](Config& c) { c.task.T_burn = -0.1; }, "task.T_burn = -0.1: must be >= 0"},
    {"T_stim", [](Config& c) { c.task.T_stim = 0; }, "task.T_stim = 0: must be > 0"},
    {"T_avg_zero", [](Config& c) { c.task.T_avg = 0; }, "task.T_avg = 0: must be > 0"},
    {"T_avg_gt_T_stim", [](Config& c) { c.task.T_avg = 90; },
     "task.T_avg = 90: must be <= task.T_stim (85)"},
    {"stim_mean_abs", [](Config& c) { c.task.stim_mean_abs = 0; },
     "task.stim_mean_abs = 0: must be > 0"},
    {"stim_std", [](Config& c) { c.task.stim_std = -1; }, "task.stim_std = -1: must be >= 0"},
    {"coherence",
     [](Config& c) {
       c.task.coherences = {0.5, 0.0};
     },
     "task.coherences[1] = 0: must be > 0"},
    {"input_noise_std", [](Config& c) { c.task.input_noise_std = -0.1; },
     "task.input_noise_std = -0.1: must be >= 0"},
    {"noise_dt", [](Config& c) { c.task.noise_dt = 0; }, "task.noise_dt = 0: must be > 0"},
    {"noise_dt_multiple",
     [](Config& c) {
       c.task.input_noise_std = 0.1;
       c.task.noise_dt = 0.15;
     },
     "task.noise_dt = 0.15: must be a multiple of integrator.dt (0.1) when input noise is on"},
    {"dt", [](Config& c) { c.integrator.dt = -0.1; }, "integrator.dt = -0.1: must be > 0"},
    {"T_burn_multiple", [](Config& c) { c.task.T_burn = 15.05; },
     "task.T_burn = 15.05: must be a multiple of integrator.dt (0.1)"},
    {"T_multiple", [](Config& c) { c.integrator.dt = 0.3; },
     "integrator.dt = 0.3: must divide the trial length T = task.T_burn + task.T_stim = 100"},
    {"T_avg_multiple", [](Config& c) { c.task.T_avg = 10.05; },
     "task.T_avg = 10.05: must be a multiple of integrator.dt (0.1)"},
    {"rtol", [](Config& c) { c.integrator.rtol = -1; }, "integrator.rtol = -1: must be > 0"},
    {"atol", [](Config& c) { c.integrator.atol = 0; }, "integrator.atol = 0: must be > 0"},
    {"dt_min", [](Config& c) { c.integrator.dt_min = 0; }, "integrator.dt_min = 0: must be > 0"},
    {"max_steps", [](Config& c) { c.integrator.max_steps = 0; },
     "integrator.max_steps = 0: must be >= 1"},
    {"checkpoints", [](Config& c) { c.integrator.checkpoints = 0; },
     "integrator.checkpoints = 0: must be >= 1"},
    {"batch_size", [](Config& c) { c.training.batch_size = 0; },
     "training.batch_size = 0: must be >= 1"},
    {"n_train_trials", [](Config& c) { c.training.n_train_trials = 31; },
     "training.n_train_trials = 31: must be >= training.batch_size (32)"},
    {"n_val_trials", [](Config& c) { c.training.n_val_trials = 0; },
     "training.n_val_trials = 0: must be >= 1"},
    {"n_epochs", [](Config& c) { c.training.n_epochs = 0; }, "training.n_epochs = 0: must be >= 1"},
    {"learning_rate", [](Config& c) { c.training.learning_rate = 0; },
     "training.learning_rate = 0: must be > 0"},
    {"lr_final_fraction", [](Config& c) { c.training.lr_final_fraction = 1.5; },
     "training.lr_final_fraction = 1.5: must be in [0, 1]"},
    {"adam_beta1", [](Config& c) { c.training.adam.beta1 = -0.1; },
     "training.adam_beta1 = -0.1: must be in [0, 1)"},
    {"adam_beta2", [](Config& c) { c.training.adam.beta2 = 1.0; },
     "training.adam_beta2 = 1: must be in [0, 1)"},
    {"adam_eps", [](Config& c) { c.training.adam.eps = 0; }, "training.adam_eps = 0: must be > 0"},
    {"grad_clip", [](Config& c) { c.training.grad_clip = -1; },
     "training.grad_clip = -1: must be >= 0"},
    {"weight_decay", [](Config& c) { c.training.weight_decay = -1e-3; },
     "training.weight_decay = -0.001: must be >= 0"},
    {"nothing_trained",
     [](Config& c) {
       auto& t = c.training;
       t.train_M = t.train_N = t.train_B = t.train_w = t.train_b = false;
     },
     "training.train_{M,N,B,w,b} = false: at least one parameter group must be trained"},
    {"eval_every", [](Config& c) { c.training.eval_every = 0; },
     "training.eval_every = 0: must be >= 1"},
    {"save_every", [](Config& c) { c.training.save_every = 0; },
     "training.save_every = 0: must be >= 1"},
    {"threads", [](Config& c) { c.training.threads = -1; }, "training.threads = -1: must be >= 0"},
    {"dir", [](Config& c) { c.output.dir.clear(); }, "output.dir = \"\": must not be empty"},
    {"gamma_nan", [](Config& c) { c.task.gamma_on = std::numeric_limits<double>::quiet_NaN(); },
     "task.gamma_on = nan: must be finite"},
    {"tau_inf", [](Config& c) { c.rnn.tau = std::numeric_limits<double>::infinity(); },
     "rnn.tau = inf: must be finite"},
};

std::string rule_name(const ::testing::TestParamInfo<Rule>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Rules, ValidateRule, ::testing::ValuesIn(kRules), rule_name);

TEST(Validate, BoundaryValuesAreAccepted) {
  Config c;
  c.rnn.N = 1;
  c.rnn.R = 1;
  c.rnn.g = 0.0;
  c.task.T_burn = 0.0;
  c.task.T_avg = c.task.T_stim;
  c.training.n_train_trials = c.training.batch_size;
  c.training.lr_final_fraction = 1.0;
  c.training.adam.beta1 = 0.0;
  c.training.grad_clip = 0.0;
  c.training.threads = 0;
  c.training.train_M = c.training.train_N = c.training.train_B = c.training.train_w = false;
  c.task.noise_dt = 0.25;  // not a multiple of dt, but there is no noise
  EXPECT_NO_THROW(validate(c));
  c.task.input_noise_std = 0.5;
  c.task.noise_dt = 0.7;  // 7 steps of 0.1: inexact in binary, within the relative tolerance
  EXPECT_NO_THROW(validate(c));
  c.integrator.dt = 0.01;
  c.task.T_stim = 85.01;
  EXPECT_NO_THROW(validate(c));
}

// Every config shipped in configs/ loads, and the default one says what the README says.
TEST(ShippedConfigs, AllLoadAndValidate) {
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(LRNN_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    EXPECT_NO_THROW(load_config(entry.path().string())) << entry.path();
  }
  EXPECT_GE(count, 4);
  const Config d = load_config(std::string(LRNN_SOURCE_DIR) + "/configs/default.yaml");
  EXPECT_EQ(d.rnn.N, 500);
  EXPECT_EQ(d.rnn.R, 2);
  EXPECT_EQ(d.integrator.dt, 0.1);
  EXPECT_EQ(d.training.batch_size, 32);
  EXPECT_EQ(d.training.n_train_trials, 10000);
  EXPECT_EQ(d.training.n_val_trials, 500);
}

}  // namespace
}  // namespace lrnn
