// hone/mpi/mpi_process_group.hpp — hone::process_group over MPI (Open MPI), in libhone_mpi.
//
// Link hone::hone_mpi (built when CMake finds MPI; Debian's libopenmpi-dev). libhone itself
// links no MPI: a run is split across ranks by giving it this group (checkpoint_quantize_options
// ::group, validator_options::group). Start the program with `mpirun -np N`; every rank runs
// the same call with the same options. `hone checkpoint quantize` does this by itself when
// mpirun starts it with more than one rank (docs/scale.md).
//
// One object per process, on the thread that calls hone: it initializes MPI
// (MPI_THREAD_FUNNELED) unless the program already did, works on MPI_COMM_WORLD, and finalizes
// MPI when it initialized it. MPI errors return (MPI_ERRORS_RETURN) and become hone::error
// (io_error, with MPI's message). A message is its size, then its bytes in chunks of at most
// 1 GiB (MPI counts are int).
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/process_group.hpp"

namespace hone {

class HONE_EXPORT mpi_process_group final : public process_group {
public:
    mpi_process_group();
    ~mpi_process_group() override;
    mpi_process_group(const mpi_process_group&) = delete;
    mpi_process_group& operator=(const mpi_process_group&) = delete;

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    void send(int to, std::span<const std::byte> bytes) override;
    std::vector<std::byte> receive(int from) override;

    /// Ends every rank of the job with exit code `code` (MPI_Abort): what a rank does after it
    /// failed, so the others do not wait for its messages.
    [[noreturn]] void abort(int code);

    /// True when mpirun (or another PMI launcher) started this process as one of several
    /// ranks: OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_SIZE greater than 1. Reads the
    /// environment only; MPI is not initialized.
    static bool launched_with_ranks() noexcept;

private:
    int rank_ = 0;
    int size_ = 1;
    bool initialized_here_ = false;
};

} // namespace hone
