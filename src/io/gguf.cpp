// GGUF reader (memory-mapped, validated before use) and streaming writer (atomic).
#include "hone/io/gguf.hpp"

#include "mapped_file.hpp"

#include "hone/core/error.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <map>
#include <new>
#include <set>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/stat.h>
#include <type_traits>
#include <unistd.h>

static_assert(std::endian::native == std::endian::little,
              "GGUF files are little-endian; big-endian hosts need byte swapping");

namespace hone::io {

struct gguf_file::impl {
    std::string source;
    detail::mapped_file mapping;  // open()'s file, or none
    std::vector<std::byte> owned; // parse()'s copy
    const std::byte* file = nullptr;
    std::uint64_t file_size = 0;
    std::uint32_t version = 0;
    std::uint64_t alignment = gguf_default_alignment;
    std::uint64_t data_offset = 0;
    gguf_metadata metadata;
    std::map<std::string, std::size_t, std::less<>> key_index;
    std::vector<gguf_tensor_info> tensors;
    std::map<std::string, std::size_t, std::less<>> index;

    impl() = default;
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;
};

namespace {

using impl = gguf_file::impl;

constexpr std::uint64_t max_i64 = static_cast<std::uint64_t>(INT64_MAX);

// The ggml types hone handles: block size (elements) and block bytes, as ggml's type traits
// and the block structs of ggml-common.h (whose sizes ggml static_asserts) define them.
struct type_entry {
    gguf_type type;
    std::string_view name;
    std::uint64_t block_size;
    std::uint64_t block_bytes;
};

constexpr type_entry known_types[] = {
    {gguf_type::f32, "F32", 1, 4},       {gguf_type::f16, "F16", 1, 2},
    {gguf_type::q4_0, "Q4_0", 32, 18},   {gguf_type::q4_1, "Q4_1", 32, 20},
    {gguf_type::q5_0, "Q5_0", 32, 22},   {gguf_type::q5_1, "Q5_1", 32, 24},
    {gguf_type::q8_0, "Q8_0", 32, 34},   {gguf_type::q2_k, "Q2_K", 256, 84},
    {gguf_type::q3_k, "Q3_K", 256, 110}, {gguf_type::q4_k, "Q4_K", 256, 144},
    {gguf_type::q5_k, "Q5_K", 256, 176}, {gguf_type::q6_k, "Q6_K", 256, 210},
    {gguf_type::q8_k, "Q8_K", 256, 292}, {gguf_type::i8, "I8", 1, 1},
    {gguf_type::i16, "I16", 1, 2},       {gguf_type::i32, "I32", 1, 4},
    {gguf_type::i64, "I64", 1, 8},       {gguf_type::f64, "F64", 1, 8},
    {gguf_type::bf16, "BF16", 1, 2},
};

// ggml types of the spec hone does not handle, named in messages.
struct other_type {
    std::uint32_t number;
    std::string_view name;
};
constexpr other_type other_types[] = {
    {4, "Q4_2 (removed from ggml)"},
    {5, "Q4_3 (removed from ggml)"},
    {9, "Q8_1"},
    {16, "IQ2_XXS"},
    {17, "IQ2_XS"},
    {18, "IQ3_XXS"},
    {19, "IQ1_S"},
    {20, "IQ4_NL"},
    {21, "IQ3_S"},
    {22, "IQ2_S"},
    {23, "IQ4_XS"},
    {29, "IQ1_M"},
    {34, "TQ1_0"},
    {35, "TQ2_0"},
    {39, "MXFP4"},
};

const type_entry* find_type(gguf_type type) noexcept {
    for (const auto& t : known_types)
        if (t.type == type) return &t;
    return nullptr;
}

const type_entry& type_or_throw(gguf_type type) {
    if (const auto* t = find_type(type)) return *t;
    fail(status::unsupported, fmt::format("gguf: ggml type {} is not one hone handles",
                                          static_cast<std::uint32_t>(type)));
}

constexpr std::string_view value_type_names[] = {"UINT8",  "INT8",    "UINT16", "INT16",  "UINT32",
                                                 "INT32",  "FLOAT32", "BOOL",   "STRING", "ARRAY",
                                                 "UINT64", "INT64",   "FLOAT64"};
constexpr std::uint32_t value_type_count = 13;
constexpr std::uint32_t array_type = 9;

// Fewest bytes one value (or array element) of the type takes in a file.
constexpr std::uint64_t min_value_bytes[] = {1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8};

// A key-value takes ≥ 8 (key length) + 1 (non-empty key) + 4 (type) + 1 (smallest value).
constexpr std::uint64_t min_kv_bytes = 14;
// A tensor info takes ≥ 8 + 1 (name) + 4 (n_dimensions) + 8 (one dim) + 4 (type) + 8 (offset).
constexpr std::uint64_t min_tensor_info_bytes = 33;

std::string quote(std::string_view name) {
    // Names and keys come from the file: keep them printable and short in messages.
    std::string out;
    for (const char c : name.substr(0, 200))
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    if (name.size() > 200) out += "...";
    return "'" + out + "'";
}

std::string describe_type(const gguf_value& v) {
    if (const auto* a = std::get_if<gguf_array>(&v))
        return fmt::format("ARRAY of {}", gguf_value_type_name(a->element_type()));
    return std::string(gguf_value_type_name(gguf_type_of(v)));
}

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& r) {
    return !__builtin_mul_overflow(a, b, &r);
}

// Rounds `x` up to a multiple of the power of two `a`; false on overflow.
bool align_up(std::uint64_t x, std::uint64_t a, std::uint64_t& r) {
    if (__builtin_add_overflow(x, a - 1, &r)) return false;
    r &= ~(a - 1);
    return true;
}

bool is_power_of_two(std::uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

// The byte size of a tensor, or a description of what is wrong with its dims (empty on
// success).
std::string tensor_bytes(const type_entry& t, std::span<const std::uint64_t> dims,
                         std::uint64_t& bytes) {
    if (dims.empty()) return "has no dimensions";
    if (dims.size() > gguf_max_dims)
        return fmt::format("has {} dimensions, above ggml's maximum of {}", dims.size(),
                           gguf_max_dims);
    for (std::size_t j = 0; j < dims.size(); ++j)
        if (dims[j] > max_i64) return fmt::format("dims[{}] = {} is not below 2^63", j, dims[j]);
    if (dims[0] % t.block_size != 0)
        return fmt::format("dims[0] = {} (the row length) is not a multiple of {}'s block size {}",
                           dims[0], t.name, t.block_size);
    std::uint64_t elements = 1;
    for (const auto d : dims)
        if (!checked_mul(elements, d, elements) || elements > max_i64)
            return "the element count reaches 2^63";
    if (!checked_mul(elements / t.block_size, t.block_bytes, bytes) || bytes > max_i64)
        return "the byte size reaches 2^63";
    return {};
}

// ---------------------------------------------------------------------------------- reading

[[noreturn]] void bad(const impl& f, const std::string& what) {
    fail(status::format_error, fmt::format("gguf '{}': {}", f.source, what));
}

[[noreturn]] void refuse(const impl& f, const std::string& what) {
    fail(status::unsupported, fmt::format("gguf '{}': {}", f.source, what));
}

// Reads fields in order, each only after checking that its bytes are in the file. `what` is a
// callable giving the field's description; it runs only when building an error.
struct cursor {
    const impl& f;
    std::uint64_t pos = 0;

    std::uint64_t remaining() const { return f.file_size - pos; }

    template <class Describe> void need(std::uint64_t n, const Describe& what) const {
        if (n > remaining())
            bad(f, fmt::format("truncated: {} needs {} bytes at offset {}, {} remain", what(), n,
                               pos, remaining()));
    }

    template <class T, class Describe> T read(const Describe& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, f.file + pos, sizeof v);
        pos += sizeof v;
        return v;
    }

    template <class Describe> std::string_view string(const Describe& what) {
        const auto len = read<std::uint64_t>([&] { return what() + " (length)"; });
        need(len, what);
        const std::string_view s(reinterpret_cast<const char*>(f.file) + pos,
                                 static_cast<std::size_t>(len));
        pos += len;
        return s;
    }
};

template <class T> std::vector<T> read_plain_array(cursor& c, std::uint64_t count) {
    // The caller checked count × sizeof(T) ≤ remaining.
    std::vector<T> v(static_cast<std::size_t>(count));
    if (count > 0) std::memcpy(v.data(), c.f.file + c.pos, v.size() * sizeof(T));
    c.pos += count * sizeof(T);
    return v;
}

template <class Describe> bool read_bool(cursor& c, const Describe& what) {
    const auto b = c.read<std::uint8_t>(what);
    if (b > 1) bad(c.f, fmt::format("{}: BOOL byte is {}, not 0 or 1", what(), b));
    return b != 0;
}

template <class Describe>
gguf_value read_scalar(cursor& c, std::uint32_t type, const Describe& what) {
    switch (type) {
    case 0: return c.read<std::uint8_t>(what);
    case 1: return c.read<std::int8_t>(what);
    case 2: return c.read<std::uint16_t>(what);
    case 3: return c.read<std::int16_t>(what);
    case 4: return c.read<std::uint32_t>(what);
    case 5: return c.read<std::int32_t>(what);
    case 6: return c.read<float>(what);
    case 7: return read_bool(c, what);
    case 8: return std::string(c.string(what));
    case 10: return c.read<std::uint64_t>(what);
    case 11: return c.read<std::int64_t>(what);
    case 12: return c.read<double>(what);
    default: break;
    }
    bad(c.f, fmt::format("{}: unknown value type {}", what(), type)); // not reached: checked
}

gguf_array read_array(cursor& c, const std::string& qk) {
    const auto type = c.read<std::uint32_t>(
        [&] { return fmt::format("metadata key {}: field 'array element type'", qk); });
    if (type == array_type)
        refuse(c.f, fmt::format("metadata key {}: arrays of arrays are not supported", qk));
    if (type >= value_type_count)
        bad(c.f, fmt::format("metadata key {}: field 'array element type': unknown value type {}",
                             qk, type));
    const auto count = c.read<std::uint64_t>(
        [&] { return fmt::format("metadata key {}: field 'array count'", qk); });
    if (count > c.remaining() / min_value_bytes[type])
        bad(c.f,
            fmt::format("metadata key {}: field 'array count': {} elements of {} need at "
                        "least {} bytes each, {} remain",
                        qk, count, value_type_names[type], min_value_bytes[type], c.remaining()));
    switch (type) {
    case 0: return {read_plain_array<std::uint8_t>(c, count)};
    case 1: return {read_plain_array<std::int8_t>(c, count)};
    case 2: return {read_plain_array<std::uint16_t>(c, count)};
    case 3: return {read_plain_array<std::int16_t>(c, count)};
    case 4: return {read_plain_array<std::uint32_t>(c, count)};
    case 5: return {read_plain_array<std::int32_t>(c, count)};
    case 6: return {read_plain_array<float>(c, count)};
    case 10: return {read_plain_array<std::uint64_t>(c, count)};
    case 11: return {read_plain_array<std::int64_t>(c, count)};
    case 12: return {read_plain_array<double>(c, count)};
    case 7: {
        std::vector<bool> v(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i)
            v[i] = read_bool(c, [&] { return fmt::format("metadata key {}: element {}", qk, i); });
        return {std::move(v)};
    }
    default: { // 8: strings; count × 8 ≤ remaining bounds the reservation
        std::vector<std::string> v;
        v.reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i)
            v.emplace_back(
                c.string([&] { return fmt::format("metadata key {}: element {}", qk, i); }));
        return {std::move(v)};
    }
    }
}

void read_metadata(cursor& c, impl& f, std::uint64_t kv_count) {
    for (std::uint64_t i = 0; i < kv_count; ++i) {
        const auto key = c.string([&] { return fmt::format("metadata entry {}: field 'key'", i); });
        if (key.empty()) bad(f, fmt::format("metadata entry {}: the key is empty", i));
        const std::string qk = quote(key);
        if (key.size() > gguf_max_key_bytes)
            bad(f, fmt::format("metadata entry {}: key {} is {} bytes, above the spec's limit of "
                               "{}",
                               i, qk, key.size(), gguf_max_key_bytes));
        if (!f.key_index.emplace(std::string(key), f.metadata.size()).second)
            bad(f, fmt::format("metadata entry {}: duplicate key {}", i, qk));
        const auto type = c.read<std::uint32_t>(
            [&] { return fmt::format("metadata key {}: field 'value type'", qk); });
        if (type >= value_type_count)
            bad(f, fmt::format("metadata key {}: field 'value type': unknown value type {}", qk,
                               type));
        gguf_value value;
        if (type == array_type)
            value = read_array(c, qk);
        else
            value = read_scalar(c, type, [&] { return fmt::format("metadata key {}", qk); });
        f.metadata.emplace_back(std::string(key), std::move(value));
    }
}

void read_tensor_infos(cursor& c, impl& f, std::uint64_t tensor_count) {
    for (std::uint64_t i = 0; i < tensor_count; ++i) {
        const auto name = c.string([&] { return fmt::format("tensor {}: field 'name'", i); });
        if (name.empty()) bad(f, fmt::format("tensor {}: field 'name' is empty", i));
        const std::string qn = quote(name);
        if (name.size() > gguf_max_name_bytes)
            bad(f, fmt::format("tensor {} {}: field 'name' is {} bytes, above the spec's limit of "
                               "{}",
                               i, qn, name.size(), gguf_max_name_bytes));
        if (!f.index.emplace(std::string(name), f.tensors.size()).second)
            bad(f, fmt::format("tensor {}: duplicate tensor name {}", i, qn));
        gguf_tensor_info t;
        t.name = std::string(name);
        const auto n_dims = c.read<std::uint32_t>(
            [&] { return fmt::format("tensor {}: field 'n_dimensions'", qn); });
        if (n_dims == 0) bad(f, fmt::format("tensor {}: field 'n_dimensions' is 0", qn));
        if (n_dims > gguf_max_dims)
            refuse(f, fmt::format("tensor {}: field 'n_dimensions' is {}, above ggml's maximum "
                                  "of {}",
                                  qn, n_dims, gguf_max_dims));
        for (std::uint32_t j = 0; j < n_dims; ++j) {
            t.dims.push_back(c.read<std::uint64_t>(
                [&] { return fmt::format("tensor {}: field 'dims[{}]'", qn, j); }));
            if (t.dims.back() > max_i64)
                bad(f, fmt::format("tensor {}: field 'dims[{}]' is {}, not below 2^63", qn, j,
                                   t.dims.back()));
        }
        const auto type =
            c.read<std::uint32_t>([&] { return fmt::format("tensor {}: field 'type'", qn); });
        const auto* te = find_type(static_cast<gguf_type>(type));
        if (te == nullptr) {
            const auto* other = std::find_if(std::begin(other_types), std::end(other_types),
                                             [&](const other_type& o) { return o.number == type; });
            if (other != std::end(other_types))
                refuse(f, fmt::format("tensor {}: field 'type': ggml type {} ({}) is not "
                                      "supported",
                                      qn, type, other->name));
            refuse(f, fmt::format("tensor {}: field 'type': ggml type {} is unknown to hone", qn,
                                  type));
        }
        t.type = te->type;
        if (const auto why = tensor_bytes(*te, t.dims, t.bytes); !why.empty())
            bad(f, fmt::format("tensor {}: field 'dims' of type {}: {}", qn, te->name, why));
        t.offset =
            c.read<std::uint64_t>([&] { return fmt::format("tensor {}: field 'offset'", qn); });
        if (t.offset % f.alignment != 0)
            bad(f, fmt::format("tensor {}: field 'offset' {} is not a multiple of the alignment "
                               "{}",
                               qn, t.offset, f.alignment));
        f.tensors.push_back(std::move(t));
    }
}

void validate(impl& f) {
    cursor c{f};
    const auto magic = c.read<std::uint32_t>([] { return std::string("header field 'magic'"); });
    if (std::memcmp(&magic, "GGUF", 4) != 0) {
        std::string shown;
        for (int k = 0; k < 4; ++k) {
            const auto b = static_cast<unsigned char>(f.file[k]);
            shown += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '?';
        }
        bad(f, fmt::format("header field 'magic' is '{}', not 'GGUF' (not a GGUF file)", shown));
    }
    f.version = c.read<std::uint32_t>([] { return std::string("header field 'version'"); });
    if (f.version == 1)
        refuse(f, "header field 'version' is 1: GGUF v1 (32-bit counts) is not supported, "
                  "convert the file to v3");
    if (f.version != 0 && (f.version & 0xffffu) == 0)
        refuse(f, fmt::format("header field 'version' is {:#x}: a big-endian GGUF file, which "
                              "hone does not read",
                              f.version));
    if (f.version == 0) bad(f, "header field 'version' is 0");
    if (f.version > gguf_version)
        refuse(f,
               fmt::format("header field 'version' is {}: hone reads versions 2 and 3", f.version));
    const auto tensor_count =
        c.read<std::uint64_t>([] { return std::string("header field 'tensor_count'"); });
    const auto kv_count =
        c.read<std::uint64_t>([] { return std::string("header field 'metadata_kv_count'"); });
    if (kv_count > c.remaining() / min_kv_bytes)
        bad(f, fmt::format("header field 'metadata_kv_count': {} entries need at least {} bytes "
                           "each, {} remain",
                           kv_count, min_kv_bytes, c.remaining()));
    if (tensor_count > c.remaining() / min_tensor_info_bytes)
        bad(f, fmt::format("header field 'tensor_count': {} tensor infos need at least {} bytes "
                           "each, {} remain",
                           tensor_count, min_tensor_info_bytes, c.remaining()));

    read_metadata(c, f, kv_count);

    if (const auto it = f.key_index.find("general.alignment"); it != f.key_index.end()) {
        const auto& v = f.metadata[it->second].second;
        const auto* a = std::get_if<std::uint32_t>(&v);
        if (a == nullptr)
            bad(f, fmt::format("metadata key 'general.alignment' is {}, not UINT32",
                               describe_type(v)));
        if (!is_power_of_two(*a))
            bad(f, fmt::format("metadata key 'general.alignment' is {}, not a power of two", *a));
        f.alignment = *a;
    }

    if (tensor_count > c.remaining() / min_tensor_info_bytes)
        bad(f, fmt::format("header field 'tensor_count': {} tensor infos need at least {} bytes "
                           "each, {} remain after the metadata",
                           tensor_count, min_tensor_info_bytes, c.remaining()));
    read_tensor_infos(c, f, tensor_count);

    // The data section starts at the end of the tensor infos rounded up to the alignment; with
    // no tensors the padding may be missing.
    const std::uint64_t header_end = c.pos;
    if (!align_up(header_end, f.alignment, f.data_offset))
        bad(f, "the data section offset overflows"); // not reachable: header_end ≤ file size
    if (tensor_count > 0 && f.data_offset > f.file_size)
        bad(f, fmt::format("truncated: the data section starts at offset {} (the tensor infos end "
                           "at {}, padded to the alignment {}), beyond the {}-byte file",
                           f.data_offset, header_end, f.alignment, f.file_size));
    const std::uint64_t data_size = f.data_offset <= f.file_size ? f.file_size - f.data_offset : 0;
    for (const auto& t : f.tensors)
        if (t.offset > data_size || t.bytes > data_size - t.offset)
            bad(f, fmt::format("tensor {}: field 'offset': its {} bytes at data offset {} reach "
                               "beyond the {}-byte data section (the file is truncated or the "
                               "offset is wrong)",
                               quote(t.name), t.bytes, t.offset, data_size));

    // No two tensors share a byte.
    std::vector<const gguf_tensor_info*> order;
    for (const auto& t : f.tensors)
        if (t.bytes > 0) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
        return a->offset != b->offset ? a->offset < b->offset : a->bytes < b->bytes;
    });
    for (std::size_t i = 1; i < order.size(); ++i) {
        const auto* prev = order[i - 1];
        const auto* t = order[i];
        if (t->offset < prev->offset + prev->bytes)
            bad(f, fmt::format("tensor {}: field 'offset': bytes [{}, {}) overlap tensor {} at "
                               "[{}, {})",
                               quote(t->name), t->offset, t->offset + t->bytes, quote(prev->name),
                               prev->offset, prev->offset + prev->bytes));
    }
}

// ---------------------------------------------------------------------------------- writing

void put_raw(std::string& out, const void* p, std::size_t n) {
    out.append(static_cast<const char*>(p), n);
}
template <class T> void put(std::string& out, T v) {
    static_assert(std::is_arithmetic_v<T>);
    put_raw(out, &v, sizeof v);
}
void put_string(std::string& out, std::string_view s) {
    put<std::uint64_t>(out, s.size());
    out.append(s);
}

void put_array(std::string& out, const gguf_array& a) {
    put<std::uint32_t>(out, static_cast<std::uint32_t>(a.element_type()));
    put<std::uint64_t>(out, a.size());
    std::visit(
        [&](const auto& v) {
            using E = typename std::decay_t<decltype(v)>::value_type;
            if constexpr (std::is_same_v<E, bool>) {
                for (const bool b : v)
                    put<std::uint8_t>(out, b ? 1 : 0);
            } else if constexpr (std::is_same_v<E, std::string>) {
                for (const auto& s : v)
                    put_string(out, s);
            } else {
                if (!v.empty()) put_raw(out, v.data(), v.size() * sizeof(E));
            }
        },
        a.values);
}

void put_value(std::string& out, const gguf_value& value) {
    put<std::uint32_t>(out, static_cast<std::uint32_t>(gguf_type_of(value)));
    std::visit(
        [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, bool>)
                put<std::uint8_t>(out, v ? 1 : 0);
            else if constexpr (std::is_same_v<V, std::string>)
                put_string(out, v);
            else if constexpr (std::is_same_v<V, gguf_array>)
                put_array(out, v);
            else
                put<V>(out, v);
        },
        value);
}

[[noreturn]] void bad_arg(const std::string& what) {
    fail(status::invalid_argument, fmt::format("gguf: {}", what));
}

struct plan {
    gguf_layout layout;
    std::string header; // magic to the end of the tensor infos
};

plan make_plan(const gguf_metadata& kv, std::span<const gguf_tensor_spec> tensors) {
    plan p;
    auto& l = p.layout;
    std::set<std::string_view> keys;
    for (const auto& [key, value] : kv) {
        if (key.empty()) bad_arg("a metadata key is empty");
        if (key.size() > gguf_max_key_bytes)
            bad_arg(fmt::format("metadata key {} is {} bytes, above the spec's limit of {}",
                                quote(key), key.size(), gguf_max_key_bytes));
        if (std::any_of(key.begin(), key.end(), [](char ch) { return ch < 0x20 || ch > 0x7e; }))
            bad_arg(fmt::format("metadata key {} is not printable ASCII", quote(key)));
        if (!keys.insert(key).second)
            bad_arg(fmt::format("metadata key {} is given twice", quote(key)));
        if (key == "general.alignment") {
            const auto* a = std::get_if<std::uint32_t>(&value);
            if (a == nullptr)
                bad_arg(fmt::format("metadata key 'general.alignment' is {}, not UINT32",
                                    describe_type(value)));
            if (!is_power_of_two(*a) || *a % 8 != 0)
                bad_arg(fmt::format("metadata key 'general.alignment' is {}, not a power of two "
                                    "that is a multiple of 8",
                                    *a));
            l.alignment = *a;
        }
    }
    std::set<std::string_view> names;
    l.bytes.reserve(tensors.size());
    for (const auto& t : tensors) {
        if (t.name.empty()) bad_arg("a tensor has an empty name");
        if (t.name.size() >= gguf_max_name_bytes)
            bad_arg(fmt::format("tensor {}: the name is {} bytes, above ggml's limit of {}",
                                quote(t.name), t.name.size(), gguf_max_name_bytes - 1));
        if (!names.insert(t.name).second)
            bad_arg(fmt::format("tensor name {} is given twice", quote(t.name)));
        const auto* te = find_type(t.type);
        if (te == nullptr)
            fail(status::unsupported,
                 fmt::format("gguf: tensor {}: ggml type {} is not one hone writes", quote(t.name),
                             static_cast<std::uint32_t>(t.type)));
        std::uint64_t bytes = 0;
        if (const auto why = tensor_bytes(*te, t.dims, bytes); !why.empty())
            bad_arg(fmt::format("tensor {}: dims of type {}: {}", quote(t.name), te->name, why));
        l.bytes.push_back(bytes);
    }

    auto& h = p.header;
    h.append("GGUF", 4);
    put<std::uint32_t>(h, gguf_version);
    put<std::uint64_t>(h, tensors.size());
    put<std::uint64_t>(h, kv.size());
    for (const auto& [key, value] : kv) {
        put_string(h, key);
        put_value(h, value);
    }
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto& t = tensors[i];
        put_string(h, t.name);
        put<std::uint32_t>(h, static_cast<std::uint32_t>(t.dims.size()));
        for (const auto d : t.dims)
            put<std::uint64_t>(h, d);
        put<std::uint32_t>(h, static_cast<std::uint32_t>(t.type));
        put<std::uint64_t>(h, offset);
        l.offsets.push_back(offset);
        std::uint64_t padded = 0;
        if (!align_up(l.bytes[i], l.alignment, padded) ||
            __builtin_add_overflow(offset, padded, &offset))
            bad_arg("the tensors' total size overflows 64 bits");
    }
    l.header_bytes = h.size();
    if (!align_up(l.header_bytes, l.alignment, l.data_offset) ||
        __builtin_add_overflow(l.data_offset, offset, &l.file_bytes) || l.file_bytes > max_i64)
        bad_arg("the file size reaches 2^63");
    return p;
}

// Writes the planned file through `sink(const void*, std::size_t)`.
template <class Sink>
void emit(const plan& p, std::span<const gguf_tensor_spec> tensors, const gguf_fill& fill,
          Sink&& sink) {
    static constexpr char zeros[256] = {};
    const auto pad = [&](std::uint64_t n) {
        while (n > 0) {
            const auto k = std::min<std::uint64_t>(n, sizeof zeros);
            sink(zeros, static_cast<std::size_t>(k));
            n -= k;
        }
    };
    const auto& l = p.layout;
    if (!tensors.empty() && !fill) bad_arg("no fill function for the tensors' data");
    sink(p.header.data(), p.header.size());
    pad(l.data_offset - l.header_bytes);
    std::uint64_t written = l.data_offset;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        std::vector<std::byte> buffer;
        try {
            buffer.resize(static_cast<std::size_t>(l.bytes[i]));
        } catch (const std::bad_alloc&) {
            fail(status::out_of_memory, fmt::format("gguf: tensor {}: cannot allocate {} bytes",
                                                    quote(tensors[i].name), l.bytes[i]));
        } catch (const std::length_error&) {
            fail(status::out_of_memory, fmt::format("gguf: tensor {}: cannot allocate {} bytes",
                                                    quote(tensors[i].name), l.bytes[i]));
        }
        fill(i, std::span<std::byte>(buffer));
        sink(buffer.data(), buffer.size());
        const std::uint64_t end = l.data_offset + l.offsets[i] + l.bytes[i];
        const std::uint64_t next =
            i + 1 < tensors.size() ? l.data_offset + l.offsets[i + 1] : l.file_bytes;
        pad(next - end);
        written = next;
    }
    if (written != l.file_bytes)
        fail(status::internal,
             fmt::format("gguf: wrote {} bytes, planned {}", written, l.file_bytes));
}

[[noreturn]] void fail_io(const std::string& what, const std::string& path, int err) {
    fail(status::io_error, fmt::format("gguf '{}': {}: {}", path, what, std::strerror(err)));
}

// A temporary file beside the destination, renamed over it by commit(); removed when
// destroyed uncommitted (any exception on the way, including from the fill function).
class temp_file {
public:
    explicit temp_file(const std::filesystem::path& dst) : dst_(dst) {
        folder_ = dst.has_parent_path() ? dst.parent_path() : std::filesystem::path(".");
        temp_ = (folder_ / ("." + dst.filename().string() + ".tmp-XXXXXX")).string();
        fd_ = ::mkstemp(temp_.data());
        if (fd_ < 0) fail_io("cannot create a temporary file beside it", dst_.string(), errno);
        if (::fchmod(fd_, 0644) != 0) {
            const int err = errno;
            ::close(fd_);
            ::unlink(temp_.c_str());
            fail_io("cannot set permissions of " + temp_, dst_.string(), err);
        }
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    ~temp_file() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(temp_.c_str());
    }

    void write(const void* data, std::size_t n) {
        const auto* p = static_cast<const char*>(data);
        while (n > 0) {
            const ssize_t k = ::write(fd_, p, n);
            if (k < 0) {
                if (errno == EINTR) continue;
                fail_io("cannot write " + temp_, dst_.string(), errno);
            }
            p += k;
            n -= static_cast<std::size_t>(k);
        }
    }

    void commit() {
        if (::fsync(fd_) != 0) fail_io("cannot flush " + temp_, dst_.string(), errno);
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) fail_io("cannot close " + temp_, dst_.string(), errno);
        if (::rename(temp_.c_str(), dst_.c_str()) != 0)
            fail_io("cannot replace it", dst_.string(), errno);
        committed_ = true;
        const int dir = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) { // make the rename itself durable
            ::fsync(dir);
            ::close(dir);
        }
    }

private:
    std::filesystem::path dst_;
    std::filesystem::path folder_;
    std::string temp_;
    int fd_ = -1;
    bool committed_ = false;
};

} // namespace

// ------------------------------------------------------------------------------- public API

bool gguf_type_known(gguf_type type) noexcept { return find_type(type) != nullptr; }

std::string_view gguf_type_name(gguf_type type) noexcept {
    const auto* t = find_type(type);
    return t ? t->name : std::string_view("unknown");
}

std::optional<gguf_type> gguf_type_from_name(std::string_view name) noexcept {
    for (const auto& t : known_types)
        if (t.name == name) return t.type;
    return std::nullopt;
}

std::uint64_t gguf_block_size(gguf_type type) { return type_or_throw(type).block_size; }
std::uint64_t gguf_block_bytes(gguf_type type) { return type_or_throw(type).block_bytes; }

std::uint64_t gguf_tensor_bytes(gguf_type type, std::span<const std::uint64_t> dims) {
    const auto& t = type_or_throw(type);
    std::uint64_t bytes = 0;
    if (const auto why = tensor_bytes(t, dims, bytes); !why.empty())
        bad_arg(fmt::format("a {} tensor: {}", t.name, why));
    return bytes;
}

std::string_view gguf_value_type_name(gguf_value_type type) noexcept {
    const auto i = static_cast<std::uint32_t>(type);
    return i < value_type_count ? value_type_names[i] : std::string_view("unknown");
}

gguf_value_type gguf_array::element_type() const noexcept {
    const auto i = static_cast<std::uint32_t>(values.index());
    return static_cast<gguf_value_type>(i < array_type ? i : i + 1);
}

std::size_t gguf_array::size() const noexcept {
    return std::visit([](const auto& v) { return v.size(); }, values);
}

gguf_value_type gguf_type_of(const gguf_value& value) noexcept {
    return static_cast<gguf_value_type>(value.index());
}

const gguf_value* gguf_find(const gguf_metadata& kv, std::string_view key) noexcept {
    for (const auto& [k, v] : kv)
        if (k == key) return &v;
    return nullptr;
}

gguf_file::gguf_file(std::shared_ptr<const impl> state) noexcept : impl_(std::move(state)) {}

gguf_file gguf_file::open(const std::filesystem::path& path) {
    auto f = std::make_shared<impl>();
    f->source = path.string();
    f->mapping = detail::mapped_file::open(path, "gguf");
    f->file = f->mapping.data();
    f->file_size = f->mapping.size();
    validate(*f);
    return gguf_file(std::move(f));
}

gguf_file gguf_file::parse(std::span<const std::byte> bytes, std::string_view source) {
    auto f = std::make_shared<impl>();
    f->source = std::string(source);
    f->owned.assign(bytes.begin(), bytes.end());
    f->file = f->owned.data();
    f->file_size = f->owned.size();
    validate(*f);
    return gguf_file(std::move(f));
}

const std::string& gguf_file::source() const noexcept { return impl_->source; }
std::uint32_t gguf_file::version() const noexcept { return impl_->version; }
std::uint64_t gguf_file::alignment() const noexcept { return impl_->alignment; }
const gguf_metadata& gguf_file::metadata() const noexcept { return impl_->metadata; }

const gguf_value* gguf_file::find(std::string_view key) const noexcept {
    const auto it = impl_->key_index.find(key);
    return it == impl_->key_index.end() ? nullptr : &impl_->metadata[it->second].second;
}

const gguf_value& gguf_file::get(std::string_view key) const {
    if (const auto* v = find(key)) return *v;
    fail(status::not_found,
         fmt::format("gguf '{}': no metadata key {}", impl_->source, quote(key)));
}

void gguf_file::wrong_type(std::string_view key, gguf_value_type wanted,
                           const gguf_value& found) const {
    fail(status::format_error,
         fmt::format("gguf '{}': metadata key {} is {}, not {}", impl_->source, quote(key),
                     describe_type(found), gguf_value_type_name(wanted)));
}

const std::vector<gguf_tensor_info>& gguf_file::tensors() const noexcept { return impl_->tensors; }

bool gguf_file::contains(std::string_view name) const noexcept {
    return impl_->index.find(name) != impl_->index.end();
}

const gguf_tensor_info& gguf_file::info(std::string_view name) const {
    const auto it = impl_->index.find(name);
    if (it == impl_->index.end())
        fail(status::not_found, fmt::format("gguf '{}': no tensor {}", impl_->source, quote(name)));
    return impl_->tensors[it->second];
}

std::span<const std::byte> gguf_file::data(std::string_view name) const {
    const auto& t = info(name);
    if (t.bytes == 0) return {};
    return {impl_->file + impl_->data_offset + t.offset, static_cast<std::size_t>(t.bytes)};
}

void gguf_file::release(std::string_view name) const {
    const auto bytes = data(name);
    if (impl_->mapping.mapped() && !bytes.empty())
        detail::release_pages(bytes.data(), bytes.data() + bytes.size());
}

std::uint64_t gguf_file::data_offset() const noexcept { return impl_->data_offset; }
std::uint64_t gguf_file::file_size() const noexcept { return impl_->file_size; }

gguf_layout plan_gguf(const gguf_metadata& kv, std::span<const gguf_tensor_spec> tensors) {
    return make_plan(kv, tensors).layout;
}

void write_gguf(const std::filesystem::path& path, const gguf_metadata& kv,
                std::span<const gguf_tensor_spec> tensors, const gguf_fill& fill) {
    const plan p = make_plan(kv, tensors);
    temp_file out(path);
    emit(p, tensors, fill, [&](const void* data, std::size_t n) { out.write(data, n); });
    out.commit();
}

std::string serialize_gguf(const gguf_metadata& kv, std::span<const gguf_tensor_spec> tensors,
                           const gguf_fill& fill) {
    const plan p = make_plan(kv, tensors);
    std::string out;
    out.reserve(static_cast<std::size_t>(p.layout.file_bytes));
    emit(p, tensors, fill, [&](const void* data, std::size_t n) { put_raw(out, data, n); });
    return out;
}

} // namespace hone::io
