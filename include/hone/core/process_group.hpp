// hone/core/process_group.hpp — the processes (ranks) one run is split across, and the few
// messages hone passes between them.
//
// A run given a process_group does part of its work on each rank and passes what the others
// need as messages: quantize_checkpoint (hone/pipeline/checkpoint_quantize.hpp) gives each
// rank a contiguous range of pieces and passes the calibration hidden states down the ranks;
// validate() (hone/validate/validator.hpp) splits a language model's evaluation batches and
// gathers the per-sequence sums. Results are the same bytes as on one process.
//
// hone's library links no transport. Open MPI's is `hone_mpi`
// (hone/mpi/mpi_process_group.hpp, built when MPI is installed); tests use an in-process one;
// the C ABI takes callbacks (hone_process_group in hone/hone.h).
#pragma once

#include "hone/core/export.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace hone {

/// Point-to-point messages between the ranks of one run. Messages between two ranks arrive in
/// the order they were sent. A transport failure throws hone::error (io_error).
class process_group {
public:
    virtual ~process_group() = default;
    /// This process's rank, 0 ≤ rank() < size(). Rank 0 writes the outputs.
    virtual int rank() const = 0;
    virtual int size() const = 0;
    /// Sends `bytes` (any size, may be empty) to rank `to`; returns when the buffer may be
    /// reused.
    virtual void send(int to, std::span<const std::byte> bytes) = 0;
    /// The next message from rank `from` (blocks until it arrives).
    virtual std::vector<std::byte> receive(int from) = 0;
};

/// Every rank's `mine`, in rank order, on every rank: rank 0 collects them and sends the whole
/// back. Also the point after which every rank has reached this call (a barrier).
HONE_EXPORT std::vector<std::vector<std::byte>> all_gather(process_group& group,
                                                           std::span<const std::byte> mine);

/// The part [begin, end) of `count` items that `rank` of `size` takes: contiguous, in rank
/// order, sizes differing by at most one (the first count % size ranks take one more).
/// Throws invalid_argument for size < 1, rank outside [0, size) or a negative count.
HONE_EXPORT std::pair<std::int64_t, std::int64_t> rank_range(std::int64_t count, int rank,
                                                             int size);

} // namespace hone
