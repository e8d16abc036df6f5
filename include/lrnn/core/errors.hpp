// The project's exception hierarchy. Apps catch these and turn them into one line and an exit code:
// ConfigError / InputError -> 2 (the user's input), NumericalError / IoError during a run -> 1.
#pragma once

#include <stdexcept>
#include <string>

namespace lrnn {

/// Base of every error lrnn throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A configuration (file, key, value or override) that breaks a rule. The message names the key
/// path, the value, the rule, and the file and line where known.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A file that cannot be read or written, or whose contents are not what lrnn expects. The message
/// names the file and what is wrong with it.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A user-supplied input file (a --resume checkpoint, a trials file) that cannot be used. Like
/// ConfigError it is the user's to fix (exit code 2), unlike an IoError during a run (exit code 1).
class InputError : public Error {
 public:
  using Error::Error;
};

/// A computation that produced NaN/Inf or could not proceed (step size underflow, too many steps).
class NumericalError : public Error {
 public:
  using Error::Error;
};

/// Thrown out of a solve whose cancel flag was set (GradientMethod::set_cancel): the caller asked
/// to stop, nothing failed. Not an lrnn::Error; whoever sets the flag must catch it (the trainer
/// does), or a catch of std::exception further up would report it as a failure.
class Cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "solve cancelled"; }
};

}  // namespace lrnn
