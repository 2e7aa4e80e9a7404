#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/data/arrays.hpp"

#include <cctype>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>
#include <optional>
#include <vector>

namespace hone {

namespace {

constexpr std::string_view magic = "\x93NUMPY";
constexpr std::size_t max_header = 1 << 16;

// The header's Python literal: a dict of str → str | bool | tuple of ints.
struct header_value {
    std::optional<std::string> text;
    std::optional<bool> flag;
    std::optional<std::vector<std::int64_t>> tuple;
};

class header_parser {
public:
    header_parser(std::string_view s, std::string_view source) : s_(s), source_(source) {}

    std::map<std::string, header_value> dict() {
        std::map<std::string, header_value> out;
        expect('{');
        for (;;) {
            skip();
            if (peek() == '}') break;
            std::string key = quoted();
            expect(':');
            if (out.count(key)) bad(fmt::format("duplicate key '{}'", key));
            out[key] = value(key);
            skip();
            if (peek() == ',') {
                ++i_;
                continue;
            }
            if (peek() != '}') bad("expected ',' or '}'");
        }
        ++i_;
        return out;
    }

private:
    [[noreturn]] void bad(const std::string& what) const {
        fail(status::format_error,
             fmt::format("NPY '{}': header: {} (at offset {})", source_, what, i_));
    }
    void skip() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t'))
            ++i_;
    }
    char peek() {
        skip();
        return i_ < s_.size() ? s_[i_] : '\0';
    }
    void expect(char c) {
        if (peek() != c) bad(fmt::format("expected '{}'", c));
        ++i_;
    }
    std::string quoted() {
        const char q = peek();
        if (q != '\'' && q != '"') bad("expected a quoted string");
        const std::size_t end = s_.find(q, ++i_);
        if (end == std::string_view::npos) bad("unterminated string");
        std::string out(s_.substr(i_, end - i_));
        i_ = end + 1;
        return out;
    }
    header_value value(const std::string& key) {
        header_value v;
        const char c = peek();
        if (c == '\'' || c == '"') {
            v.text = quoted();
        } else if (s_.substr(i_, 4) == "True") {
            v.flag = true, i_ += 4;
        } else if (s_.substr(i_, 5) == "False") {
            v.flag = false, i_ += 5;
        } else if (c == '(') {
            ++i_;
            std::vector<std::int64_t> items;
            while (peek() != ')') {
                if (!std::isdigit(static_cast<unsigned char>(peek())))
                    bad(fmt::format("'{}' holds something other than non-negative integers", key));
                std::int64_t n = 0;
                while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
                    if (__builtin_mul_overflow(n, 10, &n) ||
                        __builtin_add_overflow(n, s_[i_] - '0', &n))
                        bad(fmt::format("a dimension of '{}' overflows", key));
                    ++i_;
                }
                if (s_.substr(i_, 1) == "L") ++i_; // Python 2 longs
                items.push_back(n);
                if (items.size() > shape::max_rank)
                    bad(fmt::format("'{}' has more than {} dimensions", key, shape::max_rank));
                if (peek() == ',')
                    ++i_;
                else if (peek() != ')')
                    bad(fmt::format("expected ',' or ')' in '{}'", key));
            }
            ++i_;
            v.tuple = std::move(items);
        } else {
            bad(fmt::format("unsupported value for '{}'", key));
        }
        return v;
    }

    std::string_view s_;
    std::string_view source_;
    std::size_t i_ = 0;
};

struct npy_type {
    dtype type;
    std::size_t item;
};

npy_type npy_type_of(const std::string& descr, std::string_view source) {
    if (descr.size() < 2)
        fail(status::format_error,
             fmt::format("NPY '{}': descr '{}' is not a dtype", source, descr));
    const char order = descr[0];
    const std::string code = descr.substr(1);
    if (order == '>' && code != "i1" && code != "u1" && code != "b1")
        fail(status::format_error,
             fmt::format("NPY '{}': big-endian data ('{}') is not supported", source, descr));
    if (order != '<' && order != '|' && order != '=' && order != '>')
        fail(status::format_error,
             fmt::format("NPY '{}': descr '{}' is not a dtype", source, descr));
    static const std::map<std::string, npy_type> types = {
        {"f4", {dtype::f32, 4}},    {"f8", {dtype::f32, 8}}, {"i1", {dtype::i8, 1}},
        {"u1", {dtype::u8, 1}},     {"i4", {dtype::i32, 4}}, {"i8", {dtype::i64, 8}},
        {"b1", {dtype::boolean, 1}}};
    const auto it = types.find(code);
    if (it == types.end())
        fail(status::format_error,
             fmt::format("NPY '{}': dtype '{}' is not supported (f4, f8, i1, u1, i4, i8, b1)",
                         source, descr));
    return it->second;
}

} // namespace

tensor parse_npy(std::string_view bytes, std::string_view source) {
    auto bad = [&](const std::string& what) {
        fail(status::format_error, fmt::format("NPY '{}': {}", source, what));
    };
    if (bytes.size() < 10 || bytes.substr(0, 6) != magic) bad("not an NPY file (bad magic)");
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const unsigned major = p[6];
    std::size_t header_len = 0, offset = 0;
    if (major == 1) {
        header_len = p[8] | (std::size_t(p[9]) << 8);
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) bad("truncated header length");
        header_len = p[8] | (std::size_t(p[9]) << 8) | (std::size_t(p[10]) << 16) |
                     (std::size_t(p[11]) << 24);
        offset = 12;
    } else {
        bad(fmt::format("format version {} is not supported", major));
    }
    if (header_len > max_header) bad(fmt::format("header length {} is implausible", header_len));
    if (bytes.size() - offset < header_len)
        bad(fmt::format("header length {} runs past the end of the file", header_len));
    auto fields = header_parser(bytes.substr(offset, header_len), source).dict();
    auto need = [&](const char* key) -> header_value& {
        const auto it = fields.find(key);
        if (it == fields.end()) bad(fmt::format("header has no '{}'", key));
        return it->second;
    };
    const auto& descr = need("descr");
    const auto& fortran = need("fortran_order");
    const auto& dims = need("shape");
    if (!descr.text) bad("'descr' is not a string");
    if (!fortran.flag) bad("'fortran_order' is not True or False");
    if (*fortran.flag) bad("Fortran-order arrays are not supported; save in C order");
    if (!dims.tuple) bad("'shape' is not a tuple");
    const npy_type t = npy_type_of(*descr.text, source);
    shape s;
    try {
        s = shape(std::span<const std::int64_t>(*dims.tuple));
    } catch (const error& e) {
        bad(fmt::format("'shape': {}", e.what()));
    }
    std::uint64_t payload = 0;
    if (__builtin_mul_overflow(std::uint64_t(s.numel()), t.item, &payload))
        bad("shape describes more bytes than addressable");
    const std::uint64_t present = bytes.size() - offset - header_len;
    if (present != payload)
        bad(fmt::format("shape {} of '{}' needs {} data bytes, the file has {}", s.to_string(),
                        *descr.text, payload, present));
    tensor out(t.type, s);
    const char* data = bytes.data() + offset + header_len;
    if (t.item == 8 && t.type == dtype::f32) {
        auto f = out.span<float>();
        for (std::size_t i = 0; i < f.size(); ++i) {
            double d;
            std::memcpy(&d, data + 8 * i, 8);
            f[i] = static_cast<float>(d);
        }
    } else {
        std::memcpy(out.data(), data, payload);
        if (t.type == dtype::boolean)
            for (auto& b : std::span(static_cast<std::uint8_t*>(out.data()), payload))
                if (b > 1) bad("a boolean element is neither 0 nor 1");
    }
    return out;
}

void save_npy(const std::filesystem::path& path, const_tensor_view array) {
    const char* descr = nullptr;
    switch (array.type()) {
    case dtype::f32: descr = "<f4"; break;
    case dtype::i64: descr = "<i8"; break;
    case dtype::i32: descr = "<i4"; break;
    case dtype::u8: descr = "|u1"; break;
    case dtype::i8: descr = "|i1"; break;
    default:
        fail(status::unsupported, fmt::format("save_npy '{}': dtype {} is not supported",
                                              path.string(), name_of(array.type())));
    }
    const auto d = array.dims().dims();
    std::string dims_text = fmt::format("{}", fmt::join(d, ", "));
    if (d.size() == 1) dims_text += ",";
    std::string header =
        fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, dims_text);
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    const tensor dense = tensor::copy_of(array);
    std::string file(magic);
    file += '\x01';
    file += '\x00';
    file += static_cast<char>(header.size() & 0xff);
    file += static_cast<char>(header.size() >> 8);
    file += header;
    file.append(static_cast<const char*>(dense.data()), dense.nbytes());
    write_file_atomic(path, file);
}

} // namespace hone
