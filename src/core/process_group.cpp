#include "hone/core/process_group.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>

namespace hone {

std::pair<std::int64_t, std::int64_t> rank_range(std::int64_t count, int rank, int size) {
    if (size < 1 || rank < 0 || rank >= size || count < 0)
        fail(status::invalid_argument,
             fmt::format("rank_range: rank {} of {} ranks, {} items", rank, size, count));
    const std::int64_t base = count / size, extra = count % size;
    const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
    return {begin, begin + base + (rank < extra ? 1 : 0)};
}

std::vector<std::vector<std::byte>> all_gather(process_group& group,
                                               std::span<const std::byte> mine) {
    const int size = group.size();
    std::vector<std::vector<std::byte>> all(static_cast<std::size_t>(size));
    if (group.rank() != 0) {
        group.send(0, mine);
        for (auto& part : all)
            part = group.receive(0);
        return all;
    }
    all[0].assign(mine.begin(), mine.end());
    for (int r = 1; r < size; ++r)
        all[static_cast<std::size_t>(r)] = group.receive(r);
    for (int r = 1; r < size; ++r)
        for (const auto& part : all)
            group.send(r, part);
    return all;
}

} // namespace hone
