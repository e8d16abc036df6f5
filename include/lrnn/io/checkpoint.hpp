// HDF5 checkpoints (DESIGN.md section 5), readable with h5py, MATLAB and Julia:
//   /params/M (N x R)  /params/n (N x R)  /params/B (N x d_in)  /params/w (N)  /params/b (scalar)
//   /fixed/C (N x N)
//   /optimizer/m/<group>, /optimizer/v/<group> (shaped like the parameter), /optimizer/step
//   attributes on /: format_version, g, tau, N, R, d_in, step, seed, precision, config_yaml,
//                    best_val_loss, best_step, nan_skips, nan_skips_in_a_row, stop_streak
//                    (the last two optional: files written before them count as 0)
//   attribute crc32 (uint32) on every dataset above: zlib's CRC-32 of its elements as stored,
//                    i.e. of h5py's ds[()].tobytes(), verified on every load (files written
//                    before lrnn stored it load unverified, with a note in the log)
// Matrices are stored row-major as h5py shows them: element [i, j] of M is unit i, rank j.
// Writes are atomic: a temporary file in the same directory is written, flushed, fsync'ed and
// renamed over the target, so a crash never leaves a torn checkpoint.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/optim/adam.hpp"

namespace lrnn {

inline constexpr int kCheckpointFormatVersion = 1;

/// Run state stored next to the parameters.
struct CheckpointMeta {
  std::int64_t step = 0;  ///< optimizer updates taken when the checkpoint was written
  std::uint64_t seed = 0;
  Precision precision = Precision::kFloat32;
  std::string config_yaml;  ///< the resolved config, as written to the run directory
  double best_val_loss = std::numeric_limits<double>::infinity();  ///< for best.h5 on resume
  std::int64_t best_step = -1;
  std::int64_t nan_skips = 0;  ///< batches dropped by training.on_nan: skip
  /// Of those, the batches just before this step, all dropped: a resume goes on counting towards
  /// the limit of 10 in a row, as the uninterrupted run does.
  std::int64_t nan_skips_in_a_row = 0;
  /// Validations in a row, up to this step, at or above training.stop_at_val_accuracy in every
  /// context: a resume goes on counting towards training.stop_patience.
  std::int64_t stop_streak = 0;
};

/// What the attributes say, read without loading the arrays.
struct CheckpointInfo {
  int format_version = 0;
  Dims dims;
  double g = 0.0;
  double tau = 0.0;
  CheckpointMeta meta;
};

/// Writes atomically. Throws IoError naming the file on failure; the previous file at `path`,
/// if any, is left intact.
template <typename Scalar>
void save_checkpoint(const std::string& path, const Network<Scalar>& net,
                     const AdamState<Scalar>& adam, const CheckpointMeta& meta);

/// Reads and checks the attributes. Throws IoError if the file is missing, not HDF5, of a newer
/// format_version, or lacks an attribute, or if it crashes or hangs the HDF5 library (the read
/// is tried in a child process first: lrnn/core/read_isolation.hpp).
CheckpointInfo read_checkpoint_info(const std::string& path);

template <typename Scalar>
struct LoadedCheckpoint {
  CheckpointInfo info;
  Network<Scalar> net;
  AdamState<Scalar> adam;
  /// Datasets that had no checksum (files written before lrnn stored them), loaded unverified.
  std::vector<std::string> unverified;
};

/// Loads everything, converting to Scalar. Throws IoError naming the file and dataset if a dataset
/// is missing, has the wrong shape, fails its checksum (a flipped bit) or holds NaN/Inf
/// parameters, or if the file crashes or hangs the HDF5 library (read_checkpoint_info). Logs a
/// note (spdlog, info) when datasets had no checksum to verify.
template <typename Scalar>
LoadedCheckpoint<Scalar> load_checkpoint(const std::string& path);

/// How messages name the config stored in the checkpoint at `path`: "<path>:/config_yaml" (the
/// attribute config_yaml on the file's root group), followed by the line in it where one applies.
std::string stored_config_label(const std::string& path);

/// The config stored in the checkpoint at `path` (its meta.config_yaml), parsed and checked. Every
/// reader of a checkpoint's config goes through here, so that all say the same. Throws InputError
/// "the config stored in the checkpoint does not load: <path>:/config_yaml:<line>: ..." if it does
/// not parse or breaks a rule.
Config stored_config(const CheckpointMeta& meta, const std::string& path);

}  // namespace lrnn
