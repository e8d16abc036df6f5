// The run configuration: the owners' Options (model, task, integrate, optim) composed into one
// Config, one member per YAML section. `load_config` reads and validates a file in one place;
// errors name the key path, the value, the rule, and the file and line (DESIGN.md section 5).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lrnn/integrate/options.hpp"
#include "lrnn/model/options.hpp"
#include "lrnn/optim/training_options.hpp"
#include "lrnn/task/options.hpp"

namespace lrnn {

/// `output:` where a run writes.
struct OutputOptions {
  std::string dir = "runs/default";  ///< output.dir: run directory; --out overrides
};

struct Config {
  RnnOptions rnn;
  TaskOptions task;
  IntegratorOptions integrator;
  TrainingOptions training;
  OutputOptions output;
  std::string source;  ///< where it came from (file path), for messages; not serialized
};

/// Reads a YAML file, applies `key.path=value` overrides (as from `--set`), and validates.
/// Throws ConfigError naming the key, value, rule and file:line.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

/// The same from YAML text; `source` names it in messages.
Config parse_config(const std::string& yaml_text, const std::string& source,
                    const std::vector<std::string>& overrides = {});

/// Checks every range rule and the relations between keys (R <= N, dt divides T, ...).
void validate(const Config& config);

/// The resolved config as YAML, every key written; parse_config(to_yaml(c)) == c.
std::string to_yaml(const Config& config);

/// Names used in YAML for the enums.
const char* to_string(Method m);
const char* to_string(GradientKind g);
const char* to_string(Precision p);
const char* to_string(LrSchedule s);
const char* to_string(LabelType l);
const char* to_string(OnNan o);

}  // namespace lrnn
