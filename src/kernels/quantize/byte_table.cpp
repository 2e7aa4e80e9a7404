// kernels::byte_table (quantize.hpp): the portable loop, and the dispatch to the VBMI one.
#include "hone/kernels/isa.hpp"
#include "hone/kernels/quantize.hpp"

#include "byte_table.hpp"

#include <fmt/format.h>

namespace hone::kernels {

void byte_table(std::span<const std::uint8_t> src, const std::array<std::uint8_t, 256>& table,
                std::span<std::uint8_t> dst) {
    if (src.size() != dst.size())
        fail(status::shape_mismatch,
             fmt::format("byte_table: src has {} bytes, dst {}", src.size(), dst.size()));
    const std::size_t n = src.size();
    std::size_t i = 0;
#if defined(__x86_64__)
    if (active_isa() == isa::avx512 && detected_cpu().avx512_vbmi)
        i = detail::byte_table_vbmi(src.data(), n, table.data(), dst.data());
#endif
    for (; i < n; ++i)
        dst[i] = table[src[i]];
}

} // namespace hone::kernels
