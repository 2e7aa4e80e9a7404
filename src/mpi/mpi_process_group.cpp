#include "hone/mpi/mpi_process_group.hpp"

#include "hone/core/error.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fmt/format.h>
#include <string>

namespace hone {

namespace {

constexpr int message_tag = 7401;
constexpr std::size_t chunk_bytes = std::size_t(1) << 30;

void check(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    MPI_Error_string(code, text, &length);
    fail(status::io_error, fmt::format("MPI: {} failed: {}", what, std::string(text, length)));
}

int env_size(const char* name) noexcept {
    const char* value = std::getenv(name);
    return value ? std::atoi(value) : 0;
}

} // namespace

mpi_process_group::mpi_process_group() {
    int ready = 0;
    check(MPI_Initialized(&ready), "MPI_Initialized");
    if (!ready) {
        int provided = 0;
        check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
        initialized_here_ = true;
    }
    check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

mpi_process_group::~mpi_process_group() {
    if (initialized_here_) MPI_Finalize();
}

void mpi_process_group::send(int to, std::span<const std::byte> bytes) {
    const std::uint64_t size = bytes.size();
    check(MPI_Send(&size, 1, MPI_UINT64_T, to, message_tag, MPI_COMM_WORLD), "MPI_Send");
    for (std::size_t at = 0; at < bytes.size(); at += chunk_bytes) {
        const std::size_t n = std::min(chunk_bytes, bytes.size() - at);
        check(MPI_Send(bytes.data() + at, static_cast<int>(n), MPI_BYTE, to, message_tag,
                       MPI_COMM_WORLD),
              "MPI_Send");
    }
}

std::vector<std::byte> mpi_process_group::receive(int from) {
    std::uint64_t size = 0;
    check(MPI_Recv(&size, 1, MPI_UINT64_T, from, message_tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "MPI_Recv");
    std::vector<std::byte> bytes(size);
    for (std::size_t at = 0; at < bytes.size(); at += chunk_bytes) {
        const std::size_t n = std::min(chunk_bytes, bytes.size() - at);
        check(MPI_Recv(bytes.data() + at, static_cast<int>(n), MPI_BYTE, from, message_tag,
                       MPI_COMM_WORLD, MPI_STATUS_IGNORE),
              "MPI_Recv");
    }
    return bytes;
}

void mpi_process_group::abort(int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code); // MPI_Abort does not return; if a broken runtime does, end anyway
}

bool mpi_process_group::launched_with_ranks() noexcept {
    return env_size("OMPI_COMM_WORLD_SIZE") > 1 || env_size("PMI_SIZE") > 1 ||
           env_size("PMIX_SIZE") > 1;
}

} // namespace hone
