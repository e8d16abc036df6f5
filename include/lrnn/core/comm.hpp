// The few collective operations a multi-process run needs, behind an interface that does not
// depend on MPI: data-parallel training sums its gradients with one allreduce per step, and a
// sweep gathers its runs' records on rank 0. The serial communicator (one process, every collective
// a no-op) is always there; the MPI one exists when lrnn is built with -DLRNN_WITH_MPI=ON, so that
// neither the library's headers nor a serial build need MPI.
//
//   lrnn::CommSession session(argc, argv);   // MPI_Init_thread / MPI_Finalize, or nothing
//   const lrnn::Comm& comm = session.world();
//   comm.allreduce_sum(buffer.data(), buffer.size());
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lrnn/core/errors.hpp"

namespace lrnn {

/// A group of processes (MPI ranks) that take part in the same collective operations, in the same
/// order. Rank 0 is the one that writes files. Every method is a collective call except rank(),
/// size(), local_size() and abort(): all ranks must call it, with the same `n` and `root`.
class Comm {
 public:
  virtual ~Comm() = default;

  virtual int rank() const = 0;  ///< 0 .. size()-1
  virtual int size() const = 0;  ///< number of ranks, >= 1
  /// Ranks on this node (processes that share its cores): to choose threads per rank.
  virtual int local_size() const = 0;
  bool is_root() const { return rank() == 0; }

  /// data[i] = sum over ranks of data[i], on every rank. The order in which the ranks' values are
  /// added is MPI's; a sum over many ranks is therefore exact only up to rounding.
  virtual void allreduce_sum(double* data, std::size_t n) const = 0;
  /// data[i] = max over ranks of data[i], on every rank.
  virtual void allreduce_max(double* data, std::size_t n) const = 0;
  /// `text` becomes root's text on every rank.
  virtual void broadcast(std::string& text, int root = 0) const = 0;
  /// Root receives every rank's `text`, in rank order; the other ranks receive an empty vector.
  virtual std::vector<std::string> gather(const std::string& text, int root = 0) const = 0;
  /// Waits for every rank; with MPI without keeping a core busy meanwhile.
  virtual void barrier() const = 0;
  /// Ends every process of the job with `exit_code` (MPI_Abort): for an error on one rank while
  /// the others may wait in a collective. Does not return.
  [[noreturn]] virtual void abort(int exit_code) const = 0;
};

/// One process: rank 0 of 1; collectives leave their data as it is.
const Comm& serial_comm();

/// Whether this build of lrnn has the MPI communicator (-DLRNN_WITH_MPI=ON).
bool built_with_mpi();

/// Empty, unless a launcher started this process as one of several ranks (mpirun sets
/// OMPI_COMM_WORLD_SIZE, srun with PMI sets PMI_SIZE, srun -n N sets SLURM_STEP_NUM_TASKS) and lrnn
/// was built without MPI: then every process would train alone and write the same files, and this
/// is the message that says so.
std::string mpi_launch_problem();

/// The process's communicator for its lifetime. With MPI, the constructor initialises MPI (threads:
/// MPI_THREAD_FUNNELED; only the main thread communicates, OpenMP threads never do) and the
/// destructor finalises it; a process started without mpirun or srun is then a job of one rank.
/// Without MPI, world() is serial_comm(). One per process, in main.
class CommSession {
 public:
  CommSession(int& argc, char**& argv);
  ~CommSession();
  CommSession(const CommSession&) = delete;
  CommSession& operator=(const CommSession&) = delete;

  const Comm& world() const { return world_ ? *world_ : serial_comm(); }

 private:
  std::unique_ptr<Comm> world_;  ///< the MPI communicator; null without MPI
  bool owns_mpi_ = false;        ///< MPI was initialised here, so it is finalised here
};

/// Items [first, last) of rank `rank` when n items are split over `size` ranks into contiguous
/// ranges whose lengths differ by at most one: floor(r n / P) .. floor((r + 1) n / P) - 1.
struct RankRange {
  long long first = 0;
  long long last = 0;
};
RankRange rank_range(long long n, int rank, int size);

/// Marks an error that every rank raised at the same point from the same numbers (a NaN loss after
/// the reduction, a config that differs between ranks, a failed start agreed by run_collectively):
/// each rank throws it, rank 0 reports it, and every rank exits with exit_code() without MPI_Abort.
/// An error without the mark is one rank's own; its app reports it with the rank and aborts the
/// job.
class CollectiveMark {
 public:
  explicit CollectiveMark(int exit_code) : exit_code_(exit_code) {}
  virtual ~CollectiveMark() = default;
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

/// `E` (an lrnn::Error) with the collective mark: `throw Collective<NumericalError>(msg, 1)` is
/// caught as a NumericalError like any other.
template <typename E>
class Collective : public E, public CollectiveMark {
 public:
  Collective(const std::string& what, int exit_code) : E(what), CollectiveMark(exit_code) {}
};

/// The mark of `e`, or nullptr when it is one rank's own error.
inline const CollectiveMark* collective_mark(const std::exception& e) {
  return dynamic_cast<const CollectiveMark*>(&e);
}

/// The app exit code of an error: 2 for the user's input (ConfigError, InputError), 1 otherwise.
int exit_code_of(const std::exception& e);

/// Runs `f` on every rank (f may do nothing on some ranks) and agrees on the outcome: if f throws
/// on any rank, every rank throws a Collective error with the message of the lowest failing rank
/// (prefixed "rank r: " when r > 0) and its exit code; ConfigError and InputError stay InputError
/// (exit 2), anything else becomes Error (exit 1). For the set-up of a run, so that a bad input on
/// one rank ends the job with one message instead of a hang. One allreduce and one broadcast.
void run_collectively(const Comm& comm, const std::function<void()>& f);

/// Throws Collective<InputError> on every rank unless `text` is the same on every rank as on rank
/// 0. The message names the first rank that differs and its first differing line: "rank 1: the
/// config differs from rank 0's: 'seed: 1' here vs 'seed: 0' on rank 0". `what` names the text.
void require_same_on_all_ranks(const Comm& comm, const std::string& text, const std::string& what);

}  // namespace lrnn
