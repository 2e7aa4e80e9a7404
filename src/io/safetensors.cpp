// safetensors reader (memory-mapped, validated before use) and writer (atomic).
#include "hone/io/safetensors.hpp"

#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "mapped_file.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; big-endian hosts need byte swapping");

namespace hone::io {

struct safetensors_file::impl {
    std::string source;
    detail::mapped_file mapping;  // open()'s file, or none
    std::vector<std::byte> owned; // parse()'s copy
    const std::byte* file = nullptr;
    std::uint64_t file_size = 0;
    std::uint64_t header_size = 0;
    const std::byte* buffer = nullptr;
    std::uint64_t buffer_size = 0;
    std::vector<safetensors_tensor_info> tensors;
    std::map<std::string, std::size_t, std::less<>> index;
    safetensors_metadata metadata;

    impl() = default;
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;
};

namespace {

using json = nlohmann::json;
using impl = safetensors_file::impl;

struct dtype_entry {
    std::string_view name;
    std::optional<dtype> type; // nullopt: in the spec, not in hone
};

// Every dtype of the safetensors spec, mapped where hone has the type.
constexpr dtype_entry known_dtypes[] = {
    {"F32", dtype::f32},       {"F16", dtype::f16},       {"BF16", dtype::bf16},
    {"I8", dtype::i8},         {"U8", dtype::u8},         {"I32", dtype::i32},
    {"I64", dtype::i64},       {"BOOL", dtype::boolean},  {"F64", std::nullopt},
    {"I16", std::nullopt},     {"U16", std::nullopt},     {"U32", std::nullopt},
    {"U64", std::nullopt},     {"F8_E4M3", std::nullopt}, {"F8_E5M2", std::nullopt},
    {"F8_E8M0", std::nullopt}, {"F4", std::nullopt},      {"F6_E2M3", std::nullopt},
    {"F6_E3M2", std::nullopt}, {"C64", std::nullopt},
};

[[noreturn]] void bad(const impl& f, const std::string& what) {
    fail(status::format_error, fmt::format("safetensors '{}': {}", f.source, what));
}

std::string quote_name(std::string_view name) {
    // Tensor names come from the file: keep them printable and short in messages.
    std::string out;
    for (const char c : name.substr(0, 200))
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    if (name.size() > 200) out += "...";
    return "'" + out + "'";
}

std::uint64_t read_u64_le(const std::byte* p) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return v;
}

json parse_header(const impl& f, std::string_view text) {
    // Track keys per open object (duplicates anywhere are an error) and bound the nesting.
    std::vector<std::set<std::string>> keys;
    const json::parser_callback_t callback = [&](int depth, json::parse_event_t event,
                                                 json& parsed) {
        switch (event) {
        case json::parse_event_t::object_start:
        case json::parse_event_t::array_start:
            if (depth >= 3)
                bad(f, fmt::format("header nests deeper than the format allows (depth {})",
                                   depth + 1));
            if (event == json::parse_event_t::object_start) keys.emplace_back();
            break;
        case json::parse_event_t::object_end:
            if (!keys.empty()) keys.pop_back();
            break;
        case json::parse_event_t::key: {
            const auto& k = parsed.get_ref<const std::string&>();
            if (!keys.empty() && !keys.back().insert(k).second)
                bad(f, fmt::format("duplicate key {} in the header", quote_name(k)));
            break;
        }
        default: break;
        }
        return true;
    };
    try {
        return json::parse(text.begin(), text.end(), callback);
    } catch (const json::exception& e) {
        bad(f, fmt::format("header is not valid JSON: {}", e.what()));
    }
}

std::uint64_t checked_mul(const impl& f, std::uint64_t a, std::uint64_t b, std::string_view name) {
    std::uint64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r))
        bad(f, fmt::format("tensor {}: field 'shape': the byte size overflows 64 bits",
                           quote_name(name)));
    return r;
}

void validate(impl& f) {
    if (f.file_size < 8)
        bad(f, fmt::format("{} bytes, shorter than the 8-byte header size field", f.file_size));
    f.header_size = read_u64_le(f.file);
    if (f.header_size > f.file_size - 8)
        bad(f, fmt::format("header size {} exceeds the {} bytes after the size field",
                           f.header_size, f.file_size - 8));
    if (f.header_size > safetensors_max_header_bytes)
        bad(f, fmt::format("header size {} exceeds the limit of {} bytes", f.header_size,
                           safetensors_max_header_bytes));
    if (f.header_size < 2)
        bad(f, fmt::format("header size {} is too small for a JSON object", f.header_size));
    const std::string_view text(reinterpret_cast<const char*>(f.file + 8),
                                static_cast<std::size_t>(f.header_size));
    if (text.front() != '{') bad(f, "header does not start with '{'");
    f.buffer = f.file + 8 + f.header_size;
    f.buffer_size = f.file_size - 8 - f.header_size;

    const json root = parse_header(f, text);
    if (!root.is_object()) bad(f, "header is not a JSON object");
    for (const auto& [name, entry] : root.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object()) bad(f, "field '__metadata__' is not an object");
            for (const auto& [key, value] : entry.items()) {
                if (!value.is_string())
                    bad(f, fmt::format("field '__metadata__': value of key {} is a {}, not a "
                                       "string",
                                       quote_name(key), value.type_name()));
                f.metadata.emplace(key, value.get<std::string>());
            }
            continue;
        }
        const std::string tn = quote_name(name);
        if (name.empty()) bad(f, "a tensor has an empty name");
        if (!entry.is_object())
            bad(f, fmt::format("tensor {}: entry is a {}, not an object", tn, entry.type_name()));
        for (const auto& [field, value] : entry.items())
            if (field != "dtype" && field != "shape" && field != "data_offsets")
                bad(f, fmt::format("tensor {}: unknown field {}", tn, quote_name(field)));
        for (const char* field : {"dtype", "shape", "data_offsets"})
            if (!entry.contains(field))
                bad(f, fmt::format("tensor {}: field '{}' is missing", tn, field));

        safetensors_tensor_info info;
        info.name = name;
        const auto& dt = entry["dtype"];
        if (!dt.is_string()) bad(f, fmt::format("tensor {}: field 'dtype' is not a string", tn));
        const auto& dts = dt.get_ref<const std::string&>();
        const auto* known = std::find_if(std::begin(known_dtypes), std::end(known_dtypes),
                                         [&](const dtype_entry& d) { return d.name == dts; });
        if (known == std::end(known_dtypes))
            bad(f, fmt::format("tensor {}: field 'dtype': unknown dtype {}", tn, quote_name(dts)));
        if (!known->type)
            fail(status::unsupported,
                 fmt::format("safetensors '{}': tensor {}: field 'dtype': {} is a safetensors "
                             "dtype hone has no element type for",
                             f.source, tn, dts));
        info.type = *known->type;

        const auto& sh = entry["shape"];
        if (!sh.is_array()) bad(f, fmt::format("tensor {}: field 'shape' is not an array", tn));
        if (sh.size() > shape::max_rank)
            fail(status::unsupported,
                 fmt::format("safetensors '{}': tensor {}: field 'shape' has rank {}, above "
                             "hone's maximum {}",
                             f.source, tn, sh.size(), shape::max_rank));
        std::vector<std::int64_t> dims;
        std::uint64_t bytes = size_of(info.type);
        for (const auto& d : sh) {
            if (!d.is_number_unsigned() ||
                d.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
                bad(f, fmt::format("tensor {}: field 'shape': {} is not a dimension (an integer "
                                   "in [0, 2^63))",
                                   tn, d.dump()));
            const auto v = d.get<std::uint64_t>();
            bytes = checked_mul(f, bytes, v, name);
            dims.push_back(static_cast<std::int64_t>(v));
        }
        if (bytes > static_cast<std::uint64_t>(INT64_MAX))
            bad(f, fmt::format("tensor {}: field 'shape': the byte size overflows", tn));
        info.dims = shape(std::span<const std::int64_t>(dims));

        const auto& off = entry["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
            !off[1].is_number_unsigned())
            bad(f, fmt::format("tensor {}: field 'data_offsets' is not two non-negative integers",
                               tn));
        info.begin = off[0].get<std::uint64_t>();
        info.end = off[1].get<std::uint64_t>();
        if (info.begin > info.end)
            bad(f, fmt::format("tensor {}: field 'data_offsets': begin {} is after end {}", tn,
                               info.begin, info.end));
        if (info.end > f.buffer_size)
            bad(f, fmt::format("tensor {}: field 'data_offsets': end {} is beyond the {}-byte "
                               "data buffer (the file is truncated or the offsets are wrong)",
                               tn, info.end, f.buffer_size));
        if (info.end - info.begin != bytes)
            bad(f, fmt::format("tensor {}: field 'data_offsets' spans {} bytes but dtype {} and "
                               "shape {} need {}",
                               tn, info.end - info.begin, dts, info.dims.to_string(), bytes));
        f.tensors.push_back(std::move(info));
    }
    // Contiguous, non-overlapping, covering the buffer exactly.
    std::sort(f.tensors.begin(), f.tensors.end(), [](const auto& a, const auto& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t expected = 0;
    const safetensors_tensor_info* previous = nullptr;
    for (const auto& t : f.tensors) {
        if (t.begin < expected)
            bad(f, fmt::format("tensor {}: field 'data_offsets' [{}, {}] overlaps tensor {} "
                               "(which ends at {})",
                               quote_name(t.name), t.begin, t.end, quote_name(previous->name),
                               expected));
        if (t.begin > expected)
            bad(f, fmt::format("tensor {}: field 'data_offsets' starts at {}, leaving a hole of "
                               "{} bytes after {}",
                               quote_name(t.name), t.begin, t.begin - expected,
                               previous ? quote_name(previous->name) : "the buffer start"));
        expected = t.end;
        previous = &t;
    }
    if (expected != f.buffer_size)
        bad(f, fmt::format("{} bytes of the data buffer after offset {} belong to no tensor",
                           f.buffer_size - expected, expected));
    for (std::size_t i = 0; i < f.tensors.size(); ++i)
        f.index.emplace(f.tensors[i].name, i);
}

} // namespace

safetensors_file::safetensors_file(std::shared_ptr<const impl> state) noexcept
    : impl_(std::move(state)) {}

safetensors_file safetensors_file::open(const std::filesystem::path& path) {
    auto f = std::make_shared<impl>();
    f->source = path.string();
    f->mapping = detail::mapped_file::open(path, "safetensors");
    f->file = f->mapping.data();
    f->file_size = f->mapping.size();
    validate(*f);
    return safetensors_file(std::move(f));
}

safetensors_file safetensors_file::parse(std::span<const std::byte> bytes,
                                         std::string_view source) {
    auto f = std::make_shared<impl>();
    f->source = std::string(source);
    f->owned.assign(bytes.begin(), bytes.end());
    f->file = f->owned.data();
    f->file_size = f->owned.size();
    validate(*f);
    return safetensors_file(std::move(f));
}

const std::string& safetensors_file::source() const noexcept { return impl_->source; }
const std::vector<safetensors_tensor_info>& safetensors_file::tensors() const noexcept {
    return impl_->tensors;
}
std::vector<std::string> safetensors_file::names() const {
    std::vector<std::string> out;
    out.reserve(impl_->tensors.size());
    for (const auto& t : impl_->tensors)
        out.push_back(t.name);
    return out;
}
bool safetensors_file::contains(std::string_view name) const noexcept {
    return impl_->index.find(name) != impl_->index.end();
}
const safetensors_tensor_info& safetensors_file::info(std::string_view name) const {
    const auto it = impl_->index.find(name);
    if (it == impl_->index.end())
        fail(status::not_found,
             fmt::format("safetensors '{}': no tensor {}", impl_->source, quote_name(name)));
    return impl_->tensors[it->second];
}
const_tensor_view safetensors_file::view(std::string_view name) const {
    const auto& t = info(name);
    const std::byte* p = impl_->buffer + t.begin;
    const std::size_t align = size_of(t.type);
    if (align > 1 && reinterpret_cast<std::uintptr_t>(p) % align != 0)
        fail(status::unsupported,
             fmt::format("safetensors '{}': tensor {}: data at buffer offset {} is not aligned "
                         "for {}; use read() for a copy",
                         impl_->source, quote_name(name), t.begin, name_of(t.type)));
    return make_view(static_cast<const void*>(p), static_cast<std::size_t>(t.end - t.begin), t.type,
                     t.dims);
}
tensor safetensors_file::read(std::string_view name) const {
    const auto& t = info(name);
    tensor out(t.type, t.dims);
    if (out.nbytes() > 0) std::memcpy(out.data(), impl_->buffer + t.begin, out.nbytes());
    return out;
}
tensor safetensors_file::take(std::string_view name) const {
    const auto& t = info(name);
    tensor out(t.type, t.dims);
    constexpr std::uint64_t step = 64ull << 20; // the mapped pages resident at a time
    auto* dst = static_cast<std::byte*>(out.data());
    for (std::uint64_t at = t.begin; at < t.end; at += step) {
        const std::uint64_t n = std::min(step, t.end - at);
        std::memcpy(dst + (at - t.begin), impl_->buffer + at, static_cast<std::size_t>(n));
        if (impl_->mapping.mapped())
            detail::release_pages(impl_->buffer + at, impl_->buffer + at + n);
    }
    release(name); // the pages shared by two steps
    return out;
}

void safetensors_file::release(std::string_view name) const {
    const auto& t = info(name);
    if (!impl_->mapping.mapped()) return; // parse()'s copy: nothing mapped
    detail::release_pages(impl_->buffer + t.begin, impl_->buffer + t.end);
}
const safetensors_metadata& safetensors_file::metadata() const noexcept { return impl_->metadata; }
std::uint64_t safetensors_file::header_bytes() const noexcept { return impl_->header_size; }

std::string_view safetensors_dtype_name(hone::dtype type) {
    for (const auto& d : known_dtypes)
        if (d.type && *d.type == type) return d.name;
    fail(status::unsupported,
         fmt::format("safetensors has no dtype for hone's {}: store packed data as U8 bytes and "
                     "describe it in __metadata__",
                     name_of(type)));
}

std::string serialize_safetensors(std::span<const safetensors_entry> tensors,
                                  const safetensors_metadata& metadata) {
    std::vector<const safetensors_entry*> order;
    std::set<std::string_view> names;
    for (const auto& t : tensors) {
        if (t.name.empty())
            fail(status::invalid_argument, "safetensors: a tensor has an empty name");
        if (t.name == "__metadata__")
            fail(status::invalid_argument,
                 "safetensors: '__metadata__' is reserved, not a tensor name");
        if (!names.insert(t.name).second)
            fail(status::invalid_argument,
                 fmt::format("safetensors: tensor name {} is given twice", quote_name(t.name)));
        try {
            (void)safetensors_dtype_name(t.data.type());
        } catch (const hone::error& e) {
            fail(e.code(), fmt::format("safetensors: tensor {}: {}", quote_name(t.name), e.what()));
        }
        order.push_back(&t);
    }
    // Largest element first, then by name: every offset is a multiple of its element size.
    std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
        const auto sa = size_of(a->data.type()), sb = size_of(b->data.type());
        return sa != sb ? sa > sb : a->name < b->name;
    });
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        auto m = nlohmann::ordered_json::object();
        for (const auto& [k, v] : metadata)
            m[k] = v;
        header["__metadata__"] = std::move(m);
    }
    std::uint64_t offset = 0;
    for (const auto* t : order) {
        const std::uint64_t bytes = storage_bytes(t->data.type(), t->data.numel());
        auto shape_json = nlohmann::ordered_json::array();
        for (const auto d : t->data.dims().dims())
            shape_json.push_back(d);
        header[t->name] = {{"dtype", std::string(safetensors_dtype_name(t->data.type()))},
                           {"shape", std::move(shape_json)},
                           {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception& e) {
        fail(status::invalid_argument,
             fmt::format("safetensors: a tensor name or metadata string is not valid UTF-8 ({})",
                         e.what()));
    }
    while ((text.size() + 8) % 8 != 0)
        text += ' ';
    std::string out;
    out.reserve(8 + text.size() + offset);
    const std::uint64_t n = text.size();
    out.append(reinterpret_cast<const char*>(&n), 8);
    out += text;
    for (const auto* t : order) {
        if (t->data.numel() == 0) continue;
        if (t->data.is_contiguous()) {
            out.append(reinterpret_cast<const char*>(t->data.data()),
                       storage_bytes(t->data.type(), t->data.numel()));
        } else {
            const tensor c = tensor::copy_of(t->data);
            out.append(static_cast<const char*>(c.data()), c.nbytes());
        }
    }
    return out;
}

void save_safetensors(const std::filesystem::path& path, std::span<const safetensors_entry> tensors,
                      const safetensors_metadata& metadata) {
    write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

} // namespace hone::io
