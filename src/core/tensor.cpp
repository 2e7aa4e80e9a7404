#include "hone/core/tensor.hpp"

#include "hone/core/half.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <new>
#include <sys/mman.h>

namespace hone {

namespace {

std::string strides_text(const strides_array& s, std::size_t rank) {
    return fmt::format("[{}]", fmt::join(s.begin(), s.begin() + static_cast<long>(rank), ", "));
}

// Calls fn(offset_a, offset_b) for every element of `dims`, in row-major order.
template <class Fn>
void for_each_offset(const shape& dims, const strides_array& a, const strides_array& b, Fn fn) {
    if (dims.numel() == 0) return;
    std::array<std::int64_t, shape::max_rank> index{};
    std::int64_t off_a = 0, off_b = 0;
    const std::size_t rank = dims.rank();
    for (std::int64_t n = dims.numel(); n > 0; --n) {
        fn(off_a, off_b);
        for (std::size_t axis = rank; axis-- > 0;) { // odometer step
            off_a += a[axis];
            off_b += b[axis];
            if (++index[axis] < dims[axis]) break;
            off_a -= a[axis] * dims[axis];
            off_b -= b[axis] * dims[axis];
            index[axis] = 0;
        }
    }
}

template <class Src, class Dst> Dst convert_element(Src v) {
    if constexpr (std::is_same_v<Src, Dst>)
        return v;
    else if constexpr (std::is_same_v<Dst, float>)
        return to_float(v);
    else if constexpr (std::is_same_v<Dst, half>) {
        if constexpr (std::is_same_v<Src, float>)
            return to_half(v);
        else
            return to_half(to_float(v));
    } else {
        if constexpr (std::is_same_v<Src, float>)
            return to_bfloat16(v);
        else
            return to_bfloat16(to_float(v));
    }
}

template <class Src, class Dst> void convert_all(const_tensor_view src, tensor_view dst) {
    const auto* s = reinterpret_cast<const Src*>(src.bytes());
    auto* d = reinterpret_cast<Dst*>(dst.bytes());
    for_each_offset(src.dims(), src.strides(), dst.strides(), [&](std::int64_t i, std::int64_t j) {
        d[j] = convert_element<Src, Dst>(s[i]);
    });
}

template <class Src> void convert_from(const_tensor_view src, tensor_view dst) {
    switch (dst.type()) {
    case dtype::f32: return convert_all<Src, float>(src, dst);
    case dtype::f16: return convert_all<Src, half>(src, dst);
    default: return convert_all<Src, bfloat16>(src, dst);
    }
}

} // namespace

template <bool C> bool basic_tensor_view<C>::is_contiguous() const noexcept {
    if (numel() == 0) return true;
    const auto expected = shape_.contiguous_strides();
    for (std::size_t i = 0; i < rank(); ++i)
        if (shape_[i] > 1 && strides_[i] != expected[i]) return false;
    return true;
}

template <bool C>
std::int64_t basic_tensor_view<C>::offset_of(std::span<const std::int64_t> index) const {
    if (index.size() != rank())
        fail(status::invalid_argument, fmt::format("index of rank {} for a tensor of shape {}",
                                                   index.size(), shape_.to_string()));
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < rank(); ++i) {
        if (index[i] < 0 || index[i] >= shape_[i])
            fail(status::out_of_range, fmt::format("index [{}] is outside shape {} at axis {}",
                                                   fmt::join(index, ", "), shape_.to_string(), i));
        offset += index[i] * strides_[i];
    }
    return offset;
}

template <bool C>
basic_tensor_view<C> basic_tensor_view<C>::slice(std::size_t axis, std::int64_t begin,
                                                 std::int64_t end) const {
    const std::int64_t extent = shape_.dim(axis);
    if (begin < 0 || begin > end || end > extent)
        fail(status::out_of_range, fmt::format("slice [{}, {}) of axis {} is outside shape {}",
                                               begin, end, axis, shape_.to_string()));
    auto dims = std::array<std::int64_t, shape::max_rank>{};
    std::copy(shape_.dims().begin(), shape_.dims().end(), dims.begin());
    dims[axis] = end - begin;
    const hone::shape sliced(std::span<const std::int64_t>(dims.data(), rank()));
    const std::int64_t element_offset = end > begin ? begin * strides_[axis] : 0;
    if (is_packed(dtype_)) {
        basic_tensor_view probe(data_, dtype_, sliced, strides_);
        if (element_offset % 2 != 0 || !probe.is_contiguous())
            fail(status::unsupported,
                 fmt::format("slice [{}, {}) of axis {} of a {} tensor {} does not start on a byte "
                             "or is not contiguous",
                             begin, end, axis, name_of(dtype_), shape_.to_string()));
        return basic_tensor_view(data_ + element_offset / 2, dtype_, sliced, strides_);
    }
    return basic_tensor_view(data_ + element_offset * static_cast<std::int64_t>(size_of(dtype_)),
                             dtype_, sliced, strides_);
}

template <bool C>
void basic_tensor_view<C>::check_typed(hone::dtype wanted, bool contiguous) const {
    if (dtype_ != wanted)
        fail(status::dtype_mismatch,
             fmt::format("tensor of type {} accessed as {}", name_of(dtype_), name_of(wanted)));
    if (contiguous && !is_contiguous())
        fail(status::invalid_argument,
             fmt::format("tensor {} with strides {} is not contiguous", shape_.to_string(),
                         strides_text(strides_, rank())));
}

template class basic_tensor_view<false>;
template class basic_tensor_view<true>;

namespace {

strides_array checked_strides(const void* data, std::size_t bytes, dtype type, const shape& dims,
                              std::span<const std::int64_t> strides) {
    if (!is_valid(type))
        fail(status::invalid_argument, fmt::format("invalid dtype value {}", int(type)));
    strides_array s = dims.contiguous_strides();
    if (!strides.empty()) {
        if (strides.size() != dims.rank())
            fail(status::invalid_argument,
                 fmt::format("{} strides given for shape {} of rank {}", strides.size(),
                             dims.to_string(), dims.rank()));
        for (std::size_t i = 0; i < strides.size(); ++i) {
            if (strides[i] < 0)
                fail(status::invalid_argument,
                     fmt::format("stride {} of axis {} is negative", strides[i], i));
            s[i] = strides[i];
        }
        if (is_packed(type) && !basic_tensor_view<true>(data, type, dims, s).is_contiguous())
            fail(status::invalid_argument,
                 fmt::format("a {} tensor must be contiguous, but strides are {} for shape {}",
                             name_of(type), strides_text(s, dims.rank()), dims.to_string()));
    }
    if (dims.numel() == 0) return s;
    if (data == nullptr)
        fail(status::invalid_argument, fmt::format("null buffer for a {} tensor of shape {}",
                                                   name_of(type), dims.to_string()));
    const std::size_t element = is_packed(type) ? 1 : size_of(type);
    if (reinterpret_cast<std::uintptr_t>(data) % element != 0)
        fail(status::invalid_argument,
             fmt::format("buffer {} is not aligned to {} bytes for {} elements", data, element,
                         name_of(type)));
    std::size_t needed = 0;
    if (is_packed(type)) {
        needed = storage_bytes(type, dims.numel());
    } else { // (last reachable element + 1) · size, checked for overflow
        std::uint64_t last = 0;
        bool overflow = false;
        for (std::size_t i = 0; i < dims.rank(); ++i) {
            std::uint64_t step = 0;
            overflow |= __builtin_mul_overflow(static_cast<std::uint64_t>(dims[i] - 1),
                                               static_cast<std::uint64_t>(s[i]), &step);
            overflow |= __builtin_add_overflow(last, step, &last);
        }
        overflow |= __builtin_add_overflow(last, 1u, &last);
        overflow |= __builtin_mul_overflow(last, static_cast<std::uint64_t>(element), &last);
        if (overflow)
            fail(status::out_of_range,
                 fmt::format("view of shape {} with strides {} spans more bytes than addressable",
                             dims.to_string(), strides_text(s, dims.rank())));
        needed = static_cast<std::size_t>(last);
    }
    if (needed > bytes)
        fail(status::out_of_range,
             fmt::format("{} view of shape {} with strides {} needs {} bytes; the buffer has {}",
                         name_of(type), dims.to_string(), strides_text(s, dims.rank()), needed,
                         bytes));
    return s;
}

} // namespace

tensor_view make_view(void* data, std::size_t bytes, dtype type, const shape& dims,
                      std::span<const std::int64_t> strides) {
    return {data, type, dims, checked_strides(data, bytes, type, dims, strides)};
}

const_tensor_view make_view(const void* data, std::size_t bytes, dtype type, const shape& dims,
                            std::span<const std::int64_t> strides) {
    return {data, type, dims, checked_strides(data, bytes, type, dims, strides)};
}

// Tensor storage: each block starts one `alignment` before the data, with a header saying how
// it was obtained. Blocks of 1 MiB or more are anonymous mappings, unmapped when freed: from
// malloc they can stay resident after their tensor is gone (glibc serves blocks under its
// rising mmap threshold, up to 32 MiB, from heaps that a long run fragments: quantizing a
// checkpoint peaked 50 MB higher that way, docs/scale.md). Mapped pages arrive zeroed and
// become resident only when written.
namespace {

// Under AddressSanitizer every block comes from malloc, whose bounds it checks.
#if defined(__SANITIZE_ADDRESS__)
#define HONE_TENSOR_MAPPING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HONE_TENSOR_MAPPING 0
#endif
#endif
#ifndef HONE_TENSOR_MAPPING
#define HONE_TENSOR_MAPPING 1
#endif
constexpr std::size_t mapped_from = HONE_TENSOR_MAPPING ? std::size_t(1) << 20 : SIZE_MAX;

struct block_header {
    std::size_t mapped_bytes; // the whole mapping, or 0 for a block from aligned_alloc
};
static_assert(sizeof(block_header) <= tensor::alignment);

// A zeroed block of `bytes` (a multiple of the alignment) after its header; null on failure.
std::byte* allocate_block(std::size_t bytes) {
    const std::size_t total = bytes + tensor::alignment;
    void* base = nullptr;
    std::size_t mapped = 0;
    if (total >= mapped_from) {
        void* m =
            ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return nullptr;
        base = m;
        mapped = total;
    } else {
        base = std::aligned_alloc(tensor::alignment, total);
        if (base == nullptr) return nullptr;
        std::memset(base, 0, total);
    }
    new (base) block_header{mapped};
    return static_cast<std::byte*>(base) + tensor::alignment;
}

} // namespace

void tensor::free_deleter::operator()(void* p) const noexcept {
    if (p == nullptr) return;
    void* base = static_cast<std::byte*>(p) - alignment;
    const std::size_t mapped = static_cast<const block_header*>(base)->mapped_bytes;
    if (mapped != 0)
        ::munmap(base, mapped);
    else
        std::free(base);
}

tensor::tensor() : tensor(dtype::f32, shape{0}) {}

tensor::tensor(dtype type, const shape& dims) : dtype_(type), shape_(dims) {
    nbytes_ = storage_bytes(type, dims.numel());
    if (nbytes_ > std::numeric_limits<std::size_t>::max() - 2 * alignment)
        fail(status::out_of_memory, fmt::format("cannot allocate {} bytes", nbytes_));
    const std::size_t rounded =
        std::max<std::size_t>(alignment, (nbytes_ + alignment - 1) / alignment * alignment);
    std::byte* p = allocate_block(rounded);
    if (p == nullptr)
        fail(status::out_of_memory,
             fmt::format("cannot allocate {} bytes for a {} tensor of shape {}", nbytes_,
                         name_of(type), dims.to_string()));
    data_.reset(p);
}

tensor tensor::clone() const {
    tensor t(dtype_, shape_);
    if (nbytes_ != 0) std::memcpy(t.data(), data(), nbytes_);
    return t;
}

tensor tensor::copy_of(const_tensor_view src) {
    tensor t(src.type(), src.dims());
    copy(src, t.view());
    return t;
}

tensor_view tensor::view() noexcept {
    return {data(), dtype_, shape_, shape_.contiguous_strides()};
}

const_tensor_view tensor::view() const noexcept {
    return {data(), dtype_, shape_, shape_.contiguous_strides()};
}

void copy(const_tensor_view src, tensor_view dst) {
    if (!(src.dims() == dst.dims()))
        fail(status::shape_mismatch, fmt::format("copy from shape {} to shape {}",
                                                 src.dims().to_string(), dst.dims().to_string()));
    if (src.numel() == 0) return;
    if (is_floating(src.type()) && is_floating(dst.type())) {
        switch (src.type()) {
        case dtype::f32: return convert_from<float>(src, dst);
        case dtype::f16: return convert_from<half>(src, dst);
        default: return convert_from<bfloat16>(src, dst);
        }
    }
    if (src.type() != dst.type())
        fail(status::dtype_mismatch, fmt::format("cannot copy {} into {}: only f32, f16 and bf16 "
                                                 "convert into each other",
                                                 name_of(src.type()), name_of(dst.type())));
    if (is_packed(src.type())) { // packed views are always contiguous
        std::memcpy(dst.data(), src.data(), storage_bytes(src.type(), src.numel()));
        return;
    }
    const std::size_t element = size_of(src.type());
    for_each_offset(src.dims(), src.strides(), dst.strides(), [&](std::int64_t i, std::int64_t j) {
        std::memcpy(dst.bytes() + j * static_cast<std::int64_t>(element),
                    src.bytes() + i * static_cast<std::int64_t>(element), element);
    });
}

} // namespace hone
