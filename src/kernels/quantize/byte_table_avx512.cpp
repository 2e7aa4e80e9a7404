// kernels::byte_table with AVX-512 VBMI: two VPERMI2B lookups (bytes < 128 and ≥ 128, each in
// a 128-byte half of the table), chosen by each byte's top bit. 64 bytes per step.
#include "byte_table.hpp"

#include <immintrin.h>

namespace hone::kernels::detail {

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) std::size_t
byte_table_vbmi(const std::uint8_t* src, std::size_t n, const std::uint8_t* table,
                std::uint8_t* dst) {
    const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64),
                  t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const __m512i x = _mm512_loadu_si512(src + i);
        const __m512i low = _mm512_permutex2var_epi8(t0, x, t1);  // table[x & 127]
        const __m512i high = _mm512_permutex2var_epi8(t2, x, t3); // table[128 + (x & 127)]
        _mm512_storeu_si512(dst + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), low, high));
    }
    return i;
}

} // namespace hone::kernels::detail
