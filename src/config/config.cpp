#include "lrnn/config/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/option_checks.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/core/option_error.hpp"

namespace lrnn {
namespace {

// ----------------------------------------------------------------------------------------------
// Enum names

template <typename E>
struct EnumNames;

template <>
struct EnumNames<Method> {
  static constexpr std::array<std::pair<Method, const char*>, 3> kValues{
      {{Method::kEuler, "euler"}, {Method::kRk45, "rk45"}, {Method::kTsit5, "tsit5"}}};
};
template <>
struct EnumNames<GradientKind> {
  static constexpr std::array<std::pair<GradientKind, const char*>, 2> kValues{
      {{GradientKind::kBptt, "bptt"}, {GradientKind::kAdjoint, "adjoint"}}};
};
template <>
struct EnumNames<Precision> {
  static constexpr std::array<std::pair<Precision, const char*>, 3> kValues{
      {{Precision::kFloat32, "float32"},
       {Precision::kFloat64, "float64"},
       {Precision::kBf16, "bf16"}}};
};
template <>
struct EnumNames<LrSchedule> {
  static constexpr std::array<std::pair<LrSchedule, const char*>, 2> kValues{
      {{LrSchedule::kConstant, "constant"}, {LrSchedule::kCosine, "cosine"}}};
};
template <>
struct EnumNames<LabelType> {
  static constexpr std::array<std::pair<LabelType, const char*>, 2> kValues{
      {{LabelType::kPm1, "pm1"}, {LabelType::kBinary, "binary"}}};
};
template <>
struct EnumNames<OnNan> {
  static constexpr std::array<std::pair<OnNan, const char*>, 2> kValues{
      {{OnNan::kStop, "stop"}, {OnNan::kSkip, "skip"}}};
};

template <typename E>
const char* enum_name(E e) {
  for (const auto& [value, name] : EnumNames<E>::kValues) {
    if (value == e) return name;
  }
  return "unknown";
}

// ----------------------------------------------------------------------------------------------
// The key registry: every field of Config with its section and key, in the order to_yaml writes
// them. Reading, writing, the list of valid keys and the finiteness check all walk this one list,
// so a field added here is handled everywhere.

constexpr std::array<std::string_view, 5> kSections{"rnn", "task", "integrator", "training",
                                                    "output"};
// Top-level keys that describe a config for people and are otherwise ignored.
constexpr std::array<std::string_view, 2> kInfoKeys{"name", "description"};

template <typename C, typename F>
void for_each_field(C& c, F&& f) {
  f("rnn", "N", c.rnn.N);
  f("rnn", "R", c.rnn.R);
  f("rnn", "g", c.rnn.g);
  f("rnn", "tau", c.rnn.tau);
  f("rnn", "d_in", c.rnn.d_in);
  f("rnn", "M_init_std", c.rnn.M_init_std);
  f("rnn", "N_init_std", c.rnn.N_init_std);
  f("rnn", "B_init_std", c.rnn.B_init_std);
  f("rnn", "w_init_std", c.rnn.w_init_std);
  f("rnn", "noise_std", c.rnn.noise_std);

  f("task", "T_burn", c.task.T_burn);
  f("task", "T_stim", c.task.T_stim);
  f("task", "T_avg", c.task.T_avg);
  f("task", "stim_mean_abs", c.task.stim_mean_abs);
  f("task", "stim_std", c.task.stim_std);
  f("task", "gamma_on", c.task.gamma_on);
  f("task", "gamma_off", c.task.gamma_off);
  f("task", "coherences", c.task.coherences);
  f("task", "input_noise_std", c.task.input_noise_std);
  f("task", "noise_dt", c.task.noise_dt);
  f("task", "label_type", c.task.label_type);
  f("task", "trials_file", c.task.trials_file);

  f("integrator", "method", c.integrator.method);
  f("integrator", "gradient", c.integrator.gradient);
  f("integrator", "dt", c.integrator.dt);
  f("integrator", "rtol", c.integrator.rtol);
  f("integrator", "atol", c.integrator.atol);
  f("integrator", "dt_min", c.integrator.dt_min);
  f("integrator", "max_steps", c.integrator.max_steps);
  f("integrator", "checkpoints", c.integrator.checkpoints);

  f("training", "seed", c.training.seed);
  f("training", "precision", c.training.precision);
  f("training", "batch_size", c.training.batch_size);
  f("training", "n_train_trials", c.training.n_train_trials);
  f("training", "n_val_trials", c.training.n_val_trials);
  f("training", "n_epochs", c.training.n_epochs);
  f("training", "balanced_batches", c.training.balanced_batches);
  f("training", "learning_rate", c.training.learning_rate);
  f("training", "lr_schedule", c.training.lr_schedule);
  f("training", "lr_final_fraction", c.training.lr_final_fraction);
  f("training", "adam_beta1", c.training.adam.beta1);
  f("training", "adam_beta2", c.training.adam.beta2);
  f("training", "adam_eps", c.training.adam.eps);
  f("training", "grad_clip", c.training.grad_clip);
  f("training", "weight_decay", c.training.weight_decay);
  f("training", "train_M", c.training.train_M);
  f("training", "train_N", c.training.train_N);
  f("training", "train_B", c.training.train_B);
  f("training", "train_w", c.training.train_w);
  f("training", "train_b", c.training.train_b);
  f("training", "eval_every", c.training.eval_every);
  f("training", "save_every", c.training.save_every);
  f("training", "on_nan", c.training.on_nan);
  f("training", "threads", c.training.threads);
  f("training", "stop_at_val_accuracy", c.training.stop_at_val_accuracy);
  f("training", "stop_patience", c.training.stop_patience);
  f("training", "val_recurrent_noise", c.training.val_recurrent_noise);
  f("training", "input_noise_ramp_from", c.training.input_noise_ramp_from);
  f("training", "input_noise_ramp_begin", c.training.input_noise_ramp_begin);
  f("training", "input_noise_ramp_end", c.training.input_noise_ramp_end);

  f("output", "dir", c.output.dir);
}

std::string join_path(std::string_view section, std::string_view key) {
  std::string path(section);
  path += '.';
  path += key;
  return path;
}

/// All valid key paths ("rnn.N", ...) in registry order.
const std::vector<std::string>& key_paths() {
  static const std::vector<std::string> paths = [] {
    std::vector<std::string> p;
    Config c;
    for_each_field(c, [&](std::string_view section, std::string_view key, auto&) {
      p.push_back(join_path(section, key));
    });
    return p;
  }();
  return paths;
}

bool is_key_path(std::string_view path) {
  const auto& paths = key_paths();
  return std::find(paths.begin(), paths.end(), path) != paths.end();
}

template <std::size_t K>
bool contains(const std::array<std::string_view, K>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// ----------------------------------------------------------------------------------------------
// Messages

/// Key path -> where it was set ("configs/x.yaml:12" or "(--set)"), for messages.
using Locations = std::map<std::string, std::string, std::less<>>;

/// Where a value from --set is said to come from.
constexpr std::string_view kSetLocation = "(--set)";

[[noreturn]] void fail(std::string_view location, std::string_view message) {
  std::string text(location);
  if (!text.empty()) text += ": ";
  text += message;
  throw ConfigError(text);
}

std::string file_location(const std::string& source, const YAML::Mark& mark) {
  if (mark.line < 0) return source;
  return source + ":" + std::to_string(mark.line + 1);
}

/// Shortest decimal text that reads back as exactly `x`.
std::string format_double(double x) { return format_number(x); }

// YAML's double-quoted scalars accept JSON's escapes, so one quoting serves both formats.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

/// Appends `node` as the user wrote it to `text`, stopping once `text` reaches `limit` characters.
/// The limit also bounds the walk: YAML aliases can make a node contain itself (`&a [*a]`) or
/// repeat a subtree exponentially often, so a walk to the end need not end.
void describe_into(const YAML::Node& node, std::string& text, std::size_t limit) {
  if (text.size() >= limit) return;
  if (!node.IsDefined() || node.IsNull()) {
    text += "(empty)";
  } else if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    const bool needs_quotes = node.Tag() == "!" || std::any_of(s.begin(), s.end(), [](char ch) {
                                return static_cast<unsigned char>(ch) < 0x20;
                              });
    text += needs_quotes ? quote(s) : s;
  } else if (node.IsSequence()) {
    text += "[";
    for (std::size_t i = 0; i < node.size() && text.size() < limit; ++i) {
      if (i > 0) text += ", ";
      describe_into(node[i], text, limit);
    }
    text += "]";
  } else if (node.IsMap()) {
    text += "{";
    bool first = true;
    for (const auto& item : node) {
      if (text.size() >= limit) break;
      if (!first) text += ", ";
      describe_into(item.first, text, limit);
      text += ": ";
      describe_into(item.second, text, limit);
      first = false;
    }
    text += "}";
  }
}

/// The value as the user wrote it, on one line, for messages.
std::string describe(const YAML::Node& node) {
  constexpr std::size_t kMaxLength = 60;  // a message stays one readable line
  std::string text;
  describe_into(node, text, kMaxLength + 1);
  if (text.size() > kMaxLength) text = text.substr(0, kMaxLength - 3) + "...";
  return text;
}

/// Levenshtein distance in half steps: an edit costs 2, a change of case only 1, so that
/// 'train_n' is closer to 'train_N' than to 'train_M'.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const auto lower = [](char ch) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  };
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = 2 * j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = 2 * i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const char x = a[i - 1];
      const char y = b[j - 1];
      const std::size_t change = x == y ? 0 : (lower(x) == lower(y) ? 1 : 2);
      row[j] = std::min({row[j] + 2, row[j - 1] + 2, diagonal + change});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// "unknown key 'rnn.NN' (did you mean 'rnn.N'?)": the closest valid key by edit distance, where
/// a key found in another section counts one edit more (so 'rnn.dt' suggests 'integrator.dt'),
/// or the valid keys of the section when nothing is close.
std::string unknown_key_message(std::string_view path) {
  const auto dot = path.find('.');
  const std::string_view section = dot == std::string_view::npos ? "" : path.substr(0, dot);
  const std::string_view key = dot == std::string_view::npos ? path : path.substr(dot + 1);

  std::string best;
  std::size_t best_score = std::numeric_limits<std::size_t>::max();
  auto consider = [&](const std::string& candidate, std::size_t score) {
    if (score < best_score) {
      best_score = score;
      best = candidate;
    }
  };
  for (const auto& candidate : key_paths()) {
    const auto cdot = candidate.find('.');
    const std::string_view csection = std::string_view(candidate).substr(0, cdot);
    const std::string_view ckey = std::string_view(candidate).substr(cdot + 1);
    consider(candidate, edit_distance(key, ckey) + (csection == section ? 0 : 2));
    consider(candidate, edit_distance(path, candidate));
  }
  if (section.empty()) {
    for (const auto s : kSections) consider(std::string(s), edit_distance(path, s));
    for (const auto s : kInfoKeys) consider(std::string(s), edit_distance(path, s));
  }
  const std::size_t threshold = 2 * std::max<std::size_t>(2, key.size() / 3);  // half steps

  std::string message = "unknown key '" + std::string(path) + "'";
  if (best_score <= threshold) return message + " (did you mean '" + best + "'?)";
  if (contains(kSections, section)) {
    message += " (valid keys in " + std::string(section) + ":";
    for (const auto& candidate : key_paths()) {
      if (candidate.starts_with(std::string(section) + ".")) {
        message += " " + candidate.substr(section.size() + 1);
      }
    }
    return message + ")";
  }
  if (section.empty()) {
    message += " (valid sections:";
    for (const auto s : kSections) message += " " + std::string(s);
    return message + ")";
  }
  return message;
}

// ----------------------------------------------------------------------------------------------
// Scalars

std::optional<double> parse_double(std::string_view s) {
  static constexpr std::array<std::string_view, 3> kInf{".inf", ".Inf", ".INF"};
  static constexpr std::array<std::string_view, 3> kNan{".nan", ".NaN", ".NAN"};
  if (contains(kNan, s)) return std::numeric_limits<double>::quiet_NaN();
  bool negative = false;
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (contains(kInf, body)) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  // from_chars takes '-' but not '+', and must not see a second sign.
  if (body.empty() || body[0] == '+' || body[0] == '-') return std::nullopt;
  double value = 0.0;
  const auto [end, ec] =
      std::from_chars(body.data(), body.data() + body.size(), value, std::chars_format::general);
  if (ec != std::errc{} || end != body.data() + body.size()) return std::nullopt;
  return negative ? -value : value;
}

enum class IntParse { kOk, kNotInteger, kOutOfRange };

/// Decimal integers, and numbers such as 1e4 whose value is an exact integer.
template <typename T>
IntParse parse_integer(std::string_view s, T& out) {
  std::string_view body = s;
  if (!body.empty() && body[0] == '+') body.remove_prefix(1);
  if (!body.empty() && body[0] != '+') {
    T value{};
    const auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
    if (end == body.data() + body.size()) {
      if (ec == std::errc{}) {
        out = value;
        return IntParse::kOk;
      }
      if (ec == std::errc::result_out_of_range) return IntParse::kOutOfRange;
    }
  }
  const auto d = parse_double(s);
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  if (!d || !std::isfinite(*d) || std::trunc(*d) != *d) return IntParse::kNotInteger;
  if (std::fabs(*d) > kExactIntegers) return IntParse::kOutOfRange;
  if (*d < static_cast<double>(std::numeric_limits<T>::min()) ||
      *d > static_cast<double>(std::numeric_limits<T>::max())) {
    return IntParse::kOutOfRange;
  }
  out = static_cast<T>(*d);
  return IntParse::kOk;
}

/// A scalar the user wrote without quotes: numbers and booleans must not be quoted strings.
bool is_plain_scalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

/// One value from the file or from --set, with where it came from.
struct Entry {
  YAML::Node node;
  std::string where;
};

using Entries = std::map<std::string, Entry, std::less<>>;

[[noreturn]] void bad_value(const std::string& where, std::string_view path, const YAML::Node& node,
                            std::string_view rule) {
  fail(where, std::string(path) + " = " + describe(node) + ": " + std::string(rule));
}

template <typename T>
void read_integer(const std::string& where, std::string_view path, const YAML::Node& node,
                  T& field) {
  T value{};
  const IntParse r =
      is_plain_scalar(node) ? parse_integer(node.Scalar(), value) : IntParse::kNotInteger;
  if (r == IntParse::kNotInteger) bad_value(where, path, node, "must be an integer");
  if (r == IntParse::kOutOfRange) {
    bad_value(where, path, node,
              "must be an integer in [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
                  std::to_string(std::numeric_limits<T>::max()) + "]");
  }
  field = value;
}

void read_value(const std::string& where, std::string_view path, const YAML::Node& node,
                int& field) {
  read_integer(where, path, node, field);
}

void read_value(const std::string& where, std::string_view path, const YAML::Node& node,
                std::uint64_t& field) {
  read_integer(where, path, node, field);
}

void read_value(const std::string& where, std::string_view path, const YAML::Node& node,
                double& field) {
  const auto value = is_plain_scalar(node) ? parse_double(node.Scalar()) : std::nullopt;
  if (!value) bad_value(where, path, node, "must be a number");
  if (!std::isfinite(*value)) bad_value(where, path, node, "must be a finite number");
  field = *value;
}

void read_value(const std::string& where, std::string_view path, const YAML::Node& node,
                bool& field) {
  static constexpr std::array<std::string_view, 3> kTrue{"true", "True", "TRUE"};
  static constexpr std::array<std::string_view, 3> kFalse{"false", "False", "FALSE"};
  if (is_plain_scalar(node) && contains(kTrue, node.Scalar())) {
    field = true;
  } else if (is_plain_scalar(node) && contains(kFalse, node.Scalar())) {
    field = false;
  } else {
    bad_value(where, path, node, "must be true or false");
  }
}

void read_value(const std::string& where, std::string_view path, const YAML::Node& node,
                std::string& field) {
  if (node.IsNull()) {
    field.clear();
  } else if (node.IsScalar()) {
    field = node.Scalar();
  } else {
    bad_value(where, path, node, "must be a string");
  }
}

template <typename E>
requires std::is_enum_v<E>
void read_value(const std::string& where, std::string_view path, const YAML::Node& node, E& field) {
  if (node.IsScalar()) {
    for (const auto& [value, name] : EnumNames<E>::kValues) {
      if (node.Scalar() == name) {
        field = value;
        return;
      }
    }
  }
  std::string rule = "must be";
  constexpr std::size_t kCount = EnumNames<E>::kValues.size();
  for (std::size_t i = 0; i < kCount; ++i) {
    rule += (i == 0 ? " " : (i + 1 == kCount ? " or " : ", "));
    rule += EnumNames<E>::kValues[i].second;
  }
  bad_value(where, path, node, rule);
}

// ----------------------------------------------------------------------------------------------
// Text -> document

/// The marks of the documents of a YAML stream, as its parser reports them: where each document
/// starts and where its first node is.
class DocumentMarks : public YAML::EventHandler {
 public:
  struct Document {
    YAML::Mark start;
    std::optional<YAML::Mark> first_node;
  };
  std::vector<Document> documents;

  void OnDocumentStart(const YAML::Mark& mark) override { documents.push_back({mark, {}}); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark) {
    if (!documents.empty() && !documents.back().first_node) documents.back().first_node = mark;
  }
};

/// A YAML text read as one document.
struct YamlDocument {
  YAML::Node root;                   ///< undefined if the text holds no document
  std::optional<YAML::Mark> second;  ///< the first node of a second document, if there is one
  std::optional<YAML::Mark> stuck;   ///< a token the parser cannot get past, if there is one
};

/// Reads `text`, which should hold at most one document; throws YAML::Exception on a syntax error.
/// Not YAML::LoadAll: yaml-cpp 0.7 (Debian 12) never consumes a token that cannot start a value,
/// such as a ',' outside [ ] and { }; it then reports empty documents at that token without end,
/// and LoadAll loops forever, allocating as it goes (yaml-cpp issue #1040, fixed in 0.8; found
/// by fuzz_config). So the parser's events are read first, at most three documents of them: a
/// document that starts no later than the one before it is that token.
YamlDocument load_document(const std::string& text) {
  constexpr std::size_t kDocumentsToCheck = 3;  // "[a], b": [a], then ',' twice
  DocumentMarks marks;
  std::istringstream in(text);
  YAML::Parser parser(in);
  while (marks.documents.size() < kDocumentsToCheck && parser.HandleNextDocument(marks)) {
  }
  YamlDocument out;
  const auto& docs = marks.documents;
  for (std::size_t i = 1; i < docs.size(); ++i) {
    if (docs[i].start.pos <= docs[i - 1].start.pos) {
      out.stuck = docs[i].start;
      return out;
    }
  }
  if (docs.size() > 1) {
    out.second = docs[1].first_node.value_or(docs[1].start);
    return out;
  }
  if (!docs.empty()) out.root = YAML::Load(text);
  return out;
}

/// "','" for the character at `mark`, for messages.
std::string unexpected_text(std::string_view text, const YAML::Mark& mark) {
  if (mark.pos < 0 || static_cast<std::size_t>(mark.pos) >= text.size()) return "a token";
  const char ch = text[static_cast<std::size_t>(mark.pos)];
  if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) {
    return "a character " + quote(std::string_view(&ch, 1));
  }
  return std::string("'") + ch + "'";
}

// ----------------------------------------------------------------------------------------------
// Document -> Config

/// Checks the structure of the document (a map of sections, each a map of known keys, no
/// duplicates) and returns its values by key path.
Entries collect_entries(const YAML::Node& root, const std::string& source) {
  Entries entries;
  if (!root.IsDefined() || root.IsNull()) return entries;
  if (!root.IsMap()) {
    fail(file_location(source, root.Mark()),
         "the config must be a map of sections (rnn, task, integrator, training, output), not " +
             describe(root));
  }
  std::map<std::string, int, std::less<>> seen_sections;
  for (const auto& section_item : root) {
    const YAML::Node& key_node = section_item.first;
    const YAML::Node& value = section_item.second;
    const std::string where = file_location(source, key_node.Mark());
    if (!key_node.IsScalar()) fail(where, "key " + describe(key_node) + " is not a name");
    const std::string& section = key_node.Scalar();
    const int line = key_node.Mark().line + 1;
    if (const auto it = seen_sections.find(section); it != seen_sections.end()) {
      fail(where,
           "duplicate key '" + section + "' (first at line " + std::to_string(it->second) + ")");
    }
    seen_sections.emplace(section, line);

    if (contains(kInfoKeys, section)) {
      if (!value.IsNull() && !value.IsScalar()) {
        bad_value(where, section, value, "must be a string");
      }
      continue;
    }
    if (is_key_path(section)) {
      const auto dot = section.find('.');
      fail(where, "key '" + section + "' must be written under its section: '" +
                      section.substr(0, dot) + ":' then an indented '" + section.substr(dot + 1) +
                      ": ...'");
    }
    if (!contains(kSections, section)) fail(where, unknown_key_message(section));
    if (value.IsNull()) continue;  // a section whose keys are all commented out
    if (!value.IsMap()) {
      bad_value(where, section, value,
                "a section must be a map of keys (e.g. '" + section +
                    ":' then indented 'key: value' lines)");
    }

    std::map<std::string, int, std::less<>> seen_keys;
    for (const auto& item : value) {
      const YAML::Node& k = item.first;
      const std::string key_where = file_location(source, k.Mark());
      if (!k.IsScalar()) {
        fail(key_where, "key " + describe(k) + " in " + section + " is not a name");
      }
      const std::string path = join_path(section, k.Scalar());
      const int key_line = k.Mark().line + 1;
      if (const auto it = seen_keys.find(path); it != seen_keys.end()) {
        fail(key_where,
             "duplicate key '" + path + "' (first at line " + std::to_string(it->second) + ")");
      }
      seen_keys.emplace(path, key_line);
      if (!is_key_path(path)) fail(key_where, unknown_key_message(path));
      entries[path] = Entry{item.second, key_where};
    }
  }
  return entries;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

/// `key.path=value` from --set: the value is YAML (a scalar, or a flow list such as [0.1, 0.5]).
void apply_override(const std::string& text, Entries& entries) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || trim(text.substr(0, eq)).empty()) {
    fail(kSetLocation,
         "'" + text + "' is not of the form key.path=value (e.g. training.learning_rate=0.01)");
  }
  const std::string path = trim(text.substr(0, eq));
  const std::string value_text = text.substr(eq + 1);
  if (contains(kSections, path)) {
    fail(kSetLocation,
         "'" + path + "' is a section: set one of its keys, e.g. " +
             (path == "output" ? std::string("output.dir=runs/x") : path + ".<key>=value"));
  }
  if (contains(kInfoKeys, path)) return;  // descriptive only
  if (!is_key_path(path)) fail(kSetLocation, unknown_key_message(path));
  YamlDocument document;
  std::string problem;
  try {
    document = load_document(value_text);
  } catch (const YAML::Exception& e) {
    problem = e.msg;
  }
  if (document.stuck) {
    problem = unexpected_text(value_text, *document.stuck) + " cannot start a value";
  }
  if (document.second) problem = "more than one YAML document";
  if (!problem.empty()) {
    fail(kSetLocation,
         path + " = " + trim(value_text) + ": not a valid YAML value (" + problem + ")");
  }
  entries[path] = Entry{document.root, std::string(kSetLocation)};
}

/// Converts the collected values into a Config and records where each one came from.
Config convert(const Entries& entries, const std::string& source, Locations& locations) {
  Config config;
  for_each_field(config, [&](std::string_view section, std::string_view key, auto& field) {
    const std::string path = join_path(section, key);
    const auto it = entries.find(path);
    if (it == entries.end()) return;
    const Entry& entry = it->second;
    locations[path] = entry.where;
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::vector<double>>) {
      field.clear();
      if (entry.node.IsNull()) return;
      if (!entry.node.IsSequence()) {
        bad_value(entry.where, path, entry.node, "must be a list of numbers, e.g. [0.1, 0.5]");
      }
      for (std::size_t i = 0; i < entry.node.size(); ++i) {
        const YAML::Node element = entry.node[i];
        const std::string element_path = path + "[" + std::to_string(i) + "]";
        const std::string element_where =
            entry.where == kSetLocation ? entry.where : file_location(source, element.Mark());
        locations[element_path] = element_where;
        double value = 0.0;
        read_value(element_where, element_path, element, value);
        field.push_back(value);
      }
    } else {
      read_value(entry.where, path, entry.node, field);
    }
  });
  return config;
}

// ----------------------------------------------------------------------------------------------
// Validation

// The smallest integrator.rtol an adaptive solve may ask for with training.precision: bf16.
constexpr double kBf16MinRtol = 1e-3;

bool is_multiple(double x, double dt) {
  constexpr double kRelTol = 1e-9;  // relative: times such as 85 = 850 * 0.1 are not exact
  const double k = std::round(x / dt);
  return std::fabs(x - k * dt) <= kRelTol * std::max(std::fabs(x), dt);
}

/// Throws "location: path = value: rule"; the location is that of the first of `keys` set in the
/// file or by --set, else the config's source.
[[noreturn]] void fail_at(const Config& config, const Locations* locations,
                          const std::vector<std::string>& keys, std::string_view path,
                          const std::string& value, std::string_view rule) {
  std::string where = config.source;
  if (locations != nullptr) {
    for (const auto& key : keys) {
      if (const auto it = locations->find(key); it != locations->end()) {
        where = it->second;
        break;
      }
    }
  }
  fail(where, std::string(path) + " = " + value + ": " + std::string(rule));
}

[[noreturn]] void fail_at(const Config& config, const Locations* locations, const OptionError& e) {
  fail_at(config, locations, e.keys.empty() ? std::vector<std::string>{e.key} : e.keys, e.key,
          e.value, e.rule);
}

/// Every real number must be finite before any range rule can mean anything.
void check_finite(const Config& c, const Locations* locations) {
  for_each_field(c, [&](std::string_view section, std::string_view key, const auto& field) {
    using T = std::decay_t<decltype(field)>;
    const std::string path = join_path(section, key);
    if constexpr (std::is_same_v<T, double>) {
      if (!std::isfinite(field)) {
        fail_at(c, locations, {path}, path, format_double(field), "must be finite");
      }
    } else if constexpr (std::is_same_v<T, std::vector<double>>) {
      for (std::size_t i = 0; i < field.size(); ++i) {
        if (!std::isfinite(field[i])) {
          const std::string element = path + "[" + std::to_string(i) + "]";
          fail_at(c, locations, {element, path}, element, format_double(field[i]),
                  "must be finite");
        }
      }
    }
  });
}

/// The rules between the owners' options (each owner checks its own in IsValid).
bool relations_valid(const Config& c, OptionError* error) {
  detail::OptionChecks check(error);
  const TaskOptions& task = c.task;
  const IntegratorOptions& integrator = c.integrator;
  const double dt = integrator.dt;
  const bool euler = integrator.method == Method::kEuler;
  const bool from_file = !task.trials_file.empty();
  const std::string dt_text = "a multiple of integrator.dt (" + format_double(dt) + ")";
  return
      // x_{k+1} = (1 - dt/tau) x_k + ...: past dt = tau the leak term flips sign every step.
      (!euler || dt <= c.rnn.tau ||
       check.fail({"integrator.dt", "rnn.tau"}, "integrator.dt", format_double(dt),
                  "must be <= rnn.tau (" + format_double(c.rnn.tau) +
                      ") for euler: forward Euler of tau dx/dt = -x oscillates beyond")) &&
      // With noise the dynamics are an SDE: rk45's step control and both of its gradients assume
      // a smooth right-hand side.
      (euler || !(c.rnn.noise_std > 0.0) ||
       check.fail({"rnn.noise_std", "integrator.method"}, "rnn.noise_std",
                  format_double(c.rnn.noise_std),
                  "needs integrator.method: euler (an SDE needs an SDE solver); to evaluate such a "
                  "network with rk45, use lrnn-eval --noise-std 0")) &&
      (from_file || is_multiple(task.T_burn, dt) ||
       check.fail({"task.T_burn", "integrator.dt"}, "task.T_burn", format_double(task.T_burn),
                  "must be " + dt_text)) &&
      (from_file || is_multiple(task.T(), dt) ||
       check.fail({"integrator.dt", "task.T_stim", "task.T_burn"}, "integrator.dt",
                  format_double(dt),
                  "must divide the trial length T = task.T_burn + task.T_stim = " +
                      format_double(task.T()))) &&
      (is_multiple(task.T_avg, dt) ||
       check.fail({"task.T_avg", "integrator.dt"}, "task.T_avg", format_double(task.T_avg),
                  "must be " + dt_text)) &&
      (!(task.input_noise_std > 0.0) || is_multiple(task.noise_dt, dt) ||
       check.fail({"task.noise_dt", "integrator.dt", "task.input_noise_std"}, "task.noise_dt",
                  format_double(task.noise_dt),
                  "must be " + dt_text + " when input noise is on")) &&
      // The curriculum scales the generator's input noise: there must be noise to scale, and a
      // generator (a trials file holds its inputs as they are).
      (!c.training.input_noise_ramp() || (task.input_noise_std > 0.0 && !from_file) ||
       check.fail({"training.input_noise_ramp_end", "task.input_noise_std", "task.trials_file"},
                  "training.input_noise_ramp_end", std::to_string(c.training.input_noise_ramp_end),
                  "needs task.input_noise_std > 0 and no task.trials_file (the curriculum ramps "
                  "the generator's input noise)")) &&
      // bfloat16 keeps 8 significant bits: its inputs are rounded by up to 2^-8 = 4e-3 relative,
      // and rounding makes it a step function of the state; an error estimate asked for less than
      // that measures the rounding and shrinks the step for nothing.
      (c.training.precision != Precision::kBf16 || euler || integrator.rtol >= kBf16MinRtol ||
       check.fail({"integrator.rtol", "training.precision", "integrator.method"}, "integrator.rtol",
                  format_double(integrator.rtol),
                  "must be >= 1e-3 with training.precision: bf16 and an adaptive method "
                  "(bfloat16 rounds its inputs by up to 4e-3)"));
}

/// Finite numbers first, then each owner's rules (rnn, task, integrator, training), then the rules
/// between them, then output: the first broken rule is the message.
void validate_with_locations(const Config& c, const Locations* locations) {
  check_finite(c, locations);
  OptionError e;
  if (!c.rnn.IsValid(&e) || !c.task.IsValid(&e) || !c.integrator.IsValid(&e) ||
      !c.training.IsValid(&e) || !relations_valid(c, &e)) {
    fail_at(c, locations, e);
  }
  if (c.output.dir.empty())
    fail_at(c, locations, {"output.dir"}, "output.dir", "\"\"", "must not be empty");
}

// ----------------------------------------------------------------------------------------------
// Text -> Config

std::size_t count_lines(std::string_view text) {
  if (text.empty()) return 0;
  const auto newlines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  return newlines + (text.back() == '\n' ? 0 : 1);
}

/// yaml-cpp reads a tab in indentation as "illegal map value" or, worse, as part of a value; say
/// what is wrong instead. Tabs after the indentation (e.g. before a comment) are legal YAML.
void reject_indentation_tabs(std::string_view text, const std::string& source) {
  std::size_t line = 1;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    const std::string_view content = text.substr(start, end - start);
    const auto first = content.find_first_not_of(" \t");
    const std::string_view indent = content.substr(0, std::min(first, content.size()));
    const bool blank =
        first == std::string_view::npos || content[first] == '\r' || content[first] == '#';
    if (!blank && indent.find('\t') != std::string_view::npos) {
      fail(source + ":" + std::to_string(line),
           "tab character in indentation (YAML indents with spaces only)");
    }
    start = end + 1;
    ++line;
  }
}

/// A '[' or '{' that is still open.
struct Opener {
  std::size_t line = 0;    // 1-based
  std::size_t column = 0;  // 1-based
  char bracket = 0;
};

/// The last `bracket` still open at the end of line `up_to_line`. yaml-cpp reports an unclosed
/// bracket where it gives up, often lines later or past the end of the text, so the message points
/// at the opener instead. Quotes and comments are skipped; a quote starts a string only after
/// whitespace or punctuation, as in YAML ("it's" is a plain scalar).
std::optional<Opener> unclosed_bracket(std::string_view text, std::size_t up_to_line,
                                       char bracket) {
  std::vector<Opener> open;
  std::size_t line = 1;
  std::size_t column = 0;
  char in_quote = 0;
  bool in_comment = false;
  char previous = '\n';
  for (std::size_t i = 0; i < text.size() && line <= up_to_line; ++i) {
    const char ch = text[i];
    if (ch == '\n') {
      ++line;
      column = 0;
      in_comment = false;
      previous = ch;
      continue;
    }
    ++column;
    if (in_comment) continue;
    if (in_quote != 0) {
      if (ch == '\\' && in_quote == '"' && i + 1 < text.size() && text[i + 1] != '\n') {
        ++i;
        ++column;
      } else if (ch == in_quote) {
        in_quote = 0;
      }
      previous = ch;
      continue;
    }
    const bool after_separator = previous == '\n' || previous == ' ' || previous == '\t' ||
                                 previous == '[' || previous == '{' || previous == ',';
    if (ch == '#' && (previous == '\n' || previous == ' ' || previous == '\t')) {
      in_comment = true;
    } else if ((ch == '"' || ch == '\'') && after_separator) {
      in_quote = ch;
    } else if (ch == '[' || ch == '{') {
      open.push_back(Opener{line, column, ch});
    } else if ((ch == ']' || ch == '}') && !open.empty()) {
      open.pop_back();
    }
    previous = ch;
  }
  for (auto it = open.rbegin(); it != open.rend(); ++it) {
    if (it->bracket == bracket) return *it;
  }
  return std::nullopt;
}

[[noreturn]] void fail_parse(std::string_view text, const std::string& source,
                             const YAML::Exception& e) {
  const std::size_t lines = count_lines(text);
  std::size_t line = e.mark.line < 0 ? 0 : static_cast<std::size_t>(e.mark.line) + 1;
  std::size_t column = e.mark.column < 0 ? 0 : static_cast<std::size_t>(e.mark.column) + 1;
  std::string detail;
  const char bracket = e.msg == YAML::ErrorMsg::END_OF_SEQ_FLOW   ? '['
                       : e.msg == YAML::ErrorMsg::END_OF_MAP_FLOW ? '{'
                                                                  : 0;
  if (bracket != 0 && line > 0) {
    if (const auto opener = unclosed_bracket(text, line, bracket)) {
      line = opener->line;
      column = opener->column;
      detail = std::string(" ('") + bracket + "' at column " + std::to_string(column) +
               " is never closed)";
    }
  }
  if (lines > 0 && line > lines) line = lines;
  if (detail.empty() && column > 0) detail = " (column " + std::to_string(column) + ")";
  fail(line > 0 ? source + ":" + std::to_string(line) : source, "invalid YAML: " + e.msg + detail);
}

Config parse_text(const std::string& text, const std::string& source,
                  const std::vector<std::string>& overrides, bool allow_empty) {
  reject_indentation_tabs(text, source);
  YamlDocument document;
  try {
    document = load_document(text);
  } catch (const YAML::Exception& e) {
    fail_parse(text, source, e);
  }
  if (document.stuck) {
    const YAML::Mark& mark = *document.stuck;
    fail(file_location(source, mark), "invalid YAML: " + unexpected_text(text, mark) +
                                          " cannot start a value (column " +
                                          std::to_string(mark.column + 1) + ")");
  }
  if (document.second) {
    fail(file_location(source, *document.second),
         "more than one YAML document ('---'); a config is a single document");
  }
  const YAML::Node root = document.root;
  if (!allow_empty && (!root.IsDefined() || root.IsNull())) {
    fail(source, "the config file is empty (no keys; write at least one section)");
  }

  Entries entries = collect_entries(root, source);
  for (const auto& text_override : overrides) apply_override(text_override, entries);

  Locations locations;
  Config config = convert(entries, source, locations);
  config.source = source;
  validate_with_locations(config, &locations);
  return config;
}

// ----------------------------------------------------------------------------------------------
// Config -> YAML

std::string yaml_value(int v) { return std::to_string(v); }
std::string yaml_value(std::uint64_t v) { return std::to_string(v); }
std::string yaml_value(bool v) { return v ? "true" : "false"; }
std::string yaml_value(const std::string& v) { return quote(v); }

/// Shortest round-trip text, always with a '.' (1.0e-06, 85.0) so that YAML 1.1 readers such as
/// PyYAML see a float too.
std::string yaml_value(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  std::string s = format_double(v);
  const auto e = s.find('e');
  if (s.find('.') == std::string::npos) {
    if (e == std::string::npos) {
      s += ".0";
    } else {
      s.insert(e, ".0");
    }
  }
  return s;
}

std::string yaml_value(const std::vector<double>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) s += ", ";
    s += yaml_value(v[i]);
  }
  return s + "]";
}

template <typename E>
requires std::is_enum_v<E> std::string yaml_value(E v) { return enum_name(v); }

}  // namespace

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    fail(path, "cannot read the config file (" + ec.message() + ")");
  }
  if (!fs::exists(status)) fail(path, "no such config file");
  if (fs::is_directory(status)) fail(path, "is a directory, not a config file");

  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    fail(path, std::string("cannot open the config file for reading") +
                   (err != 0 ? std::string(" (") + std::strerror(err) + ")" : std::string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path, "error while reading the config file");
  return parse_text(text.str(), path, overrides, /*allow_empty=*/false);
}

Config parse_config(const std::string& yaml_text, const std::string& source,
                    const std::vector<std::string>& overrides) {
  return parse_text(yaml_text, source, overrides, /*allow_empty=*/true);
}

void validate(const Config& config) { validate_with_locations(config, nullptr); }

std::string to_yaml(const Config& config) {
  std::string out;
  std::string_view current;
  for_each_field(config, [&](std::string_view section, std::string_view key, const auto& field) {
    if (section != current) {
      out += section;
      out += ":\n";
      current = section;
    }
    out += "  ";
    out += key;
    out += ": ";
    out += yaml_value(field);
    out += '\n';
  });
  return out;
}

const char* to_string(Method m) { return enum_name(m); }
const char* to_string(GradientKind g) { return enum_name(g); }
const char* to_string(Precision p) { return enum_name(p); }
const char* to_string(LrSchedule s) { return enum_name(s); }
const char* to_string(LabelType l) { return enum_name(l); }
const char* to_string(OnNan o) { return enum_name(o); }

}  // namespace lrnn
