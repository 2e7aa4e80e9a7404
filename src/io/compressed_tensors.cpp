// compressed-tensors "pack-quantized" checkpoints (hone/io/compressed_tensors.hpp).
#include "hone/io/compressed_tensors.hpp"

#include "hone/core/error.hpp"
#include "hone/core/half.hpp"
#include "hone/core/threads.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace hone::io {

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr std::string_view format_name = "pack-quantized";
constexpr std::string_view method_name = "compressed-tensors";

// The integer grid of `bits`: q ∈ [qmin, qmax], stored as u = q + offset.
struct grid {
    int bits, pack; // pack: values per int32
    int qmin, qmax, offset;
    std::uint32_t mask;
    explicit grid(int b)
        : bits(b), pack(32 / b), qmin(-(1 << (b - 1))), qmax((1 << (b - 1)) - 1),
          offset(1 << (b - 1)), mask((1u << b) - 1) {}
};

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

void check_scheme(const compressed_tensors_scheme& s, std::string_view what) {
    if (s.bits != 4 && s.bits != 8)
        fail(status::invalid_argument,
             fmt::format("{}: bits must be 4 or 8, got {}", what, s.bits));
    if (s.group_size < 0)
        fail(
            status::invalid_argument,
            fmt::format("{}: group_size must be ≥ 0 (0: per channel), got {}", what, s.group_size));
    if (s.scale_type != dtype::f16 && s.scale_type != dtype::bf16)
        fail(status::invalid_argument, fmt::format("{}: scale_type must be f16 or bf16, got {}",
                                                   what, name_of(s.scale_type)));
}

// ---- scales in their storage type ----------------------------------------------------------

std::uint16_t scale_bits(float v, dtype t) {
    return t == dtype::f16 ? to_half(v).bits : to_bfloat16(v).bits;
}
float scale_value(std::uint16_t bits, dtype t) {
    return t == dtype::f16 ? to_float(half{bits}) : to_float(bfloat16{bits});
}
// torch.finfo(dtype).eps: llm-compressor's scale for a group of zeros.
float scale_epsilon(dtype t) { return t == dtype::f16 ? 0x1p-10f : 0x1p-7f; }

// Stored scale for the exact scale `sc` (≥ 0): its rounding, eps for 0, the smallest positive
// value when it underflows. nullopt when it overflows.
std::optional<std::uint16_t> stored_scale(float sc, dtype t) {
    if (!std::isfinite(sc)) return std::nullopt;
    if (sc == 0) return scale_bits(scale_epsilon(t), t);
    const std::uint16_t b = scale_bits(sc, t);
    const float v = scale_value(b, t);
    if (std::isinf(v)) return std::nullopt;
    if (v == 0) return std::uint16_t{1}; // smallest subnormal of f16 and bf16
    return b;
}

// ---- quantization of one scale group -------------------------------------------------------

struct group_params {
    std::uint16_t scale = 0;
    float scale_value = 0;
    int zero = 0;
};

std::optional<group_params> params_for(float lo, float hi, const grid& g, bool symmetric,
                                       dtype scale_type) {
    const float levels = static_cast<float>((1 << g.bits) - 1);
    const float sc = symmetric ? std::max(-lo, hi) / (levels / 2) : (hi - lo) / levels;
    const auto b = stored_scale(sc, scale_type);
    if (!b) return std::nullopt;
    group_params p;
    p.scale = *b;
    p.scale_value = scale_value(*b, scale_type);
    if (!symmetric) {
        const float z = std::nearbyint(static_cast<float>(g.qmin) - lo / p.scale_value);
        p.zero =
            static_cast<int>(std::clamp(z, static_cast<float>(g.qmin), static_cast<float>(g.qmax)));
    }
    return p;
}

int quantize_value(float x, const group_params& p, const grid& g) {
    float t = x / p.scale_value + static_cast<float>(p.zero);
    t = std::clamp(t, static_cast<float>(g.qmin), static_cast<float>(g.qmax));
    return static_cast<int>(std::nearbyint(t));
}

// Quantizes x[0..n) into q; false when the scale overflows its type.
bool quantize_group(const float* x, const float* importance, std::int64_t n, const grid& g,
                    bool symmetric, dtype scale_type, std::int8_t* q, group_params& out) {
    float lo = 0, hi = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    std::optional<group_params> best = params_for(lo, hi, g, symmetric, scale_type);
    if (!best) return false;
    if (importance) {
        // Clipping ratios 1, 0.95, …, 0.5; the first (largest) of equal errors wins.
        double best_error = std::numeric_limits<double>::infinity();
        for (int k = 0; k <= 10; ++k) {
            const float ratio = 1.0f - 0.05f * static_cast<float>(k);
            const auto p = params_for(lo * ratio, hi * ratio, g, symmetric, scale_type);
            if (!p) continue;
            double err = 0;
            for (std::int64_t i = 0; i < n; ++i) {
                const float w =
                    static_cast<float>(quantize_value(x[i], *p, g) - p->zero) * p->scale_value;
                const double d = static_cast<double>(x[i]) - static_cast<double>(w);
                err += static_cast<double>(importance[i]) * d * d;
            }
            if (err < best_error) {
                best_error = err;
                best = p;
            }
        }
    }
    out = *best;
    for (std::int64_t i = 0; i < n; ++i)
        q[i] = static_cast<std::int8_t>(quantize_value(x[i], out, g));
    return true;
}

// ---- unpacking ------------------------------------------------------------------------------

// Where a tensor lives, for messages: "<source>: tensor '<prefix><field>'".
struct location {
    std::string source; // file or folder; empty for in-memory tensors
    std::string prefix; // module prefix with its trailing '.', or empty
    std::string at(std::string_view field) const {
        return source.empty() ? fmt::format("tensor '{}{}'", prefix, field)
                              : fmt::format("{}: tensor '{}{}'", source, prefix, field);
    }
};

struct packed_views {
    const_tensor_view packed, scale, zero_point, shape;
    bool has_zero_point = false;
};

std::string dtype_label(dtype t) {
    try {
        return std::string(safetensors_dtype_name(t));
    } catch (const error&) {
        return std::string(name_of(t));
    }
}

// {out, in} from weight_shape when it is well-formed.
std::optional<std::pair<std::int64_t, std::int64_t>> read_shape(const const_tensor_view& v) {
    if (v.rank() != 1 || v.dims()[0] != 2) return std::nullopt;
    std::int64_t out = 0, in = 0;
    if (v.type() == dtype::i64) {
        const auto s = v.span<std::int64_t>();
        out = s[0];
        in = s[1];
    } else if (v.type() == dtype::i32) {
        const auto s = v.span<std::int32_t>();
        out = s[0];
        in = s[1];
    } else {
        return std::nullopt;
    }
    if (out <= 0 || in <= 0) return std::nullopt;
    return std::pair{out, in};
}

// Whether the tensors' shapes fit `s` (used to pick a config group; no validation). `exact`:
// a zero point is present exactly when the scheme is asymmetric.
bool fits(const packed_views& v, const compressed_tensors_scheme& s, bool exact) {
    const auto dims = read_shape(v.shape);
    if (!dims) return false;
    const auto [out, in] = *dims;
    const grid g(s.bits);
    if (v.packed.rank() != 2 || v.packed.dims()[1] != ceil_div(in, g.pack)) return false;
    if (s.group_size > 0 && in % s.group_size != 0) return false;
    const std::int64_t groups = s.group_size > 0 ? in / s.group_size : 1;
    if (v.scale.rank() != 2 || v.scale.dims()[1] != groups) return false;
    return exact ? s.symmetric != v.has_zero_point : s.symmetric || v.has_zero_point;
}

[[noreturn]] void bad(const location& where, std::string_view field, const std::string& what) {
    fail(status::format_error, fmt::format("{}: {}", where.at(field), what));
}

void expect_dims(const const_tensor_view& v, const hone::shape& want, const location& where,
                 std::string_view field) {
    if (!(v.dims() == want))
        bad(where, field,
            fmt::format("shape {} is not {}", v.dims().to_string(), want.to_string()));
}

tensor unpack_views(const packed_views& v, const compressed_tensors_scheme& s,
                    const location& where) {
    const grid g(s.bits);
    // weight_shape
    if (v.shape.type() != dtype::i64 && v.shape.type() != dtype::i32)
        bad(where, "weight_shape",
            fmt::format("dtype {}, expected I64 (or I32)", dtype_label(v.shape.type())));
    if (v.shape.rank() != 1 || v.shape.dims()[0] != 2)
        bad(where, "weight_shape",
            fmt::format("shape {} is not [2] ({{out, in}})", v.shape.dims().to_string()));
    const auto dims = read_shape(v.shape);
    if (!dims) bad(where, "weight_shape", "dimensions must be positive");
    const std::int64_t out = dims->first, in = dims->second; // plain names: used in an omp loop

    // weight_packed
    if (v.packed.type() != dtype::i32)
        bad(where, "weight_packed",
            fmt::format("dtype {}, expected I32", dtype_label(v.packed.type())));
    if (v.packed.rank() != 2 || v.packed.dims()[0] != out ||
        v.packed.dims()[1] != ceil_div(in, g.pack))
        bad(where, "weight_packed",
            fmt::format("shape {} is not [{}, {}] for weight_shape {{{}, {}}} at {} bits",
                        v.packed.dims().to_string(), out, ceil_div(in, g.pack), out, in, s.bits));

    // weight_scale
    if (s.group_size > 0 && in % s.group_size != 0)
        bad(where, "weight_shape",
            fmt::format("{} input columns are not a multiple of group_size {}", in, s.group_size));
    const std::int64_t groups = s.group_size > 0 ? in / s.group_size : 1;
    const std::int64_t group_len = in / groups;
    const dtype st = v.scale.type();
    if (st != dtype::f16 && st != dtype::bf16 && st != dtype::f32)
        bad(where, "weight_scale",
            fmt::format("dtype {}, expected F16, BF16 or F32", dtype_label(st)));
    expect_dims(v.scale, {out, groups}, where, "weight_scale");
    tensor scales(dtype::f32, {out, groups});
    copy(v.scale, scales.view());
    const auto sc = scales.span<float>();
    for (std::size_t i = 0; i < sc.size(); ++i)
        if (!std::isfinite(sc[i]))
            bad(where, "weight_scale",
                fmt::format("non-finite value {} at [{}, {}]", sc[i],
                            static_cast<std::int64_t>(i) / groups,
                            static_cast<std::int64_t>(i) % groups));

    // weight_zero_point: z[r, g]
    std::vector<std::int32_t> zero(static_cast<std::size_t>(out * groups), 0);
    if (v.has_zero_point) {
        const auto& z = v.zero_point;
        if (z.type() == dtype::i32) {
            expect_dims(z, {ceil_div(out, g.pack), groups}, where, "weight_zero_point");
            const auto words = z.span<std::int32_t>();
            for (std::int64_t r = 0; r < out; ++r)
                for (std::int64_t c = 0; c < groups; ++c) {
                    const auto word = static_cast<std::uint32_t>(
                        words[static_cast<std::size_t>((r / g.pack) * groups + c)]);
                    const auto u = (word >> (g.bits * (r % g.pack))) & g.mask;
                    zero[static_cast<std::size_t>(r * groups + c)] =
                        static_cast<std::int32_t>(u) - g.offset;
                }
        } else if (z.type() == dtype::i8) {
            expect_dims(z, {out, groups}, where, "weight_zero_point");
            const auto values = z.span<std::int8_t>();
            for (std::size_t i = 0; i < values.size(); ++i) {
                if (values[i] < g.qmin || values[i] > g.qmax)
                    bad(where, "weight_zero_point",
                        fmt::format("value {} at [{}, {}] is outside [{}, {}]", values[i],
                                    static_cast<std::int64_t>(i) / groups,
                                    static_cast<std::int64_t>(i) % groups, g.qmin, g.qmax));
                zero[i] = values[i];
            }
        } else {
            bad(where, "weight_zero_point",
                fmt::format("dtype {}, expected I32 (packed) or I8", dtype_label(z.type())));
        }
        if (s.symmetric)
            for (std::size_t i = 0; i < zero.size(); ++i)
                if (zero[i] != 0)
                    bad(where, "weight_zero_point",
                        fmt::format("zero point {} at [{}, {}] in a symmetric scheme", zero[i],
                                    static_cast<std::int64_t>(i) / groups,
                                    static_cast<std::int64_t>(i) % groups));
    } else if (!s.symmetric) {
        bad(where, "weight_zero_point", "missing (the scheme is asymmetric)");
    }

    tensor result(dtype::f32, {out, in});
    auto* dst = static_cast<float*>(result.data());
    const auto words = v.packed.span<std::int32_t>();
    const std::int64_t row_words = ceil_div(in, g.pack);
    const int threads = out * in >= 65536 ? hone::num_threads() : 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t r = 0; r < out; ++r)
        for (std::int64_t c = 0; c < in; ++c) {
            const auto word = static_cast<std::uint32_t>(
                words[static_cast<std::size_t>(r * row_words + c / g.pack)]);
            const int q = static_cast<int>((word >> (g.bits * (c % g.pack))) & g.mask) - g.offset;
            const auto k = static_cast<std::size_t>(r * groups + c / group_len);
            dst[r * in + c] = static_cast<float>(q - zero[k]) * sc[k];
        }
    return result;
}

// ---- quantization_config -------------------------------------------------------------------

ordered_json config_object(const compressed_tensors_scheme& s,
                           const std::vector<std::string>& ignore) {
    check_scheme(s, "quantization_config");
    // Keys in sorted order, as llm-compressor writes them (json.dump(sort_keys=True)).
    ordered_json weights;
    weights["actorder"] = nullptr;
    weights["block_structure"] = nullptr;
    weights["dynamic"] = false;
    if (s.group_size > 0)
        weights["group_size"] = s.group_size;
    else
        weights["group_size"] = nullptr;
    weights["num_bits"] = s.bits;
    weights["observer"] = "minmax";
    weights["observer_kwargs"] = ordered_json::object();
    weights["strategy"] = s.group_size > 0 ? "group" : "channel";
    weights["symmetric"] = s.symmetric;
    weights["type"] = "int";

    ordered_json group;
    group["input_activations"] = nullptr;
    group["output_activations"] = nullptr;
    group["targets"] = ordered_json::array({"Linear"});
    group["weights"] = std::move(weights);

    ordered_json q;
    q["config_groups"] = ordered_json::object({{"group_0", std::move(group)}});
    q["format"] = format_name;
    q["global_compression_ratio"] = nullptr;
    q["ignore"] = ignore;
    q["kv_cache_scheme"] = nullptr;
    q["quant_method"] = method_name;
    q["quantization_status"] = "compressed";
    // Not written: "version" (the compressed-tensors library version that wrote the file: hone
    // is not it), "sparsity_config" and "transform_config" (llm-compressor writes {} for none;
    // readers treat absent the same and older ones predate the empty objects), the group's
    // "format" and the weights' "scale_dtype"/"zp_dtype" (newer fields that older
    // compressed-tensors versions refuse: their QuantizationScheme/Args forbid unknown keys).
    return q;
}

std::string dump(const ordered_json& j, std::string_view source) {
    try {
        return j.dump(2);
    } catch (const json::exception& e) {
        fail(status::format_error, fmt::format("{}: cannot write as JSON: {}", source, e.what()));
    }
}

// A config field reader that names the field's path in its errors.
struct config_reader {
    std::string source;

    [[noreturn]] void wrong(const std::string& path, std::string_view what) const {
        fail(status::format_error, fmt::format("{}: field '{}' {}", source, path, what));
    }
    [[noreturn]] void unsupported(const std::string& path, const ordered_json& value,
                                  std::string_view why) const {
        fail(status::unsupported, fmt::format("{}: field '{}' = {} is not supported: {}", source,
                                              path, value.dump(), why));
    }
    // Absent and null are the same: nullptr.
    static const ordered_json* get(const ordered_json& object, const char* key) {
        const auto it = object.find(key);
        return it == object.end() || it->is_null() ? nullptr : &*it;
    }
    std::vector<std::string> strings(const ordered_json& v, const std::string& path) const {
        if (!v.is_array()) wrong(path, "must be an array of strings");
        std::vector<std::string> out;
        for (const auto& e : v) {
            if (!e.is_string()) wrong(path, "must be an array of strings");
            out.push_back(e.get<std::string>());
        }
        return out;
    }
    std::string lower_string(const ordered_json& v, const std::string& path) const {
        if (!v.is_string()) wrong(path, "must be a string");
        std::string s = v.get<std::string>();
        for (auto& ch : s)
            if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
        return s;
    }
    void empty_or_absent(const ordered_json& q, const char* key, std::string_view why) const {
        const ordered_json* v = get(q, key);
        if (v && !(v->is_object() && v->empty()))
            unsupported(std::string("quantization_config.") + key, *v, why);
    }

    compressed_tensors_scheme weights(const ordered_json& w, const std::string& path) const {
        static constexpr std::string_view known[] = {
            "num_bits", "type",     "symmetric",   "group_size", "strategy", "block_structure",
            "dynamic",  "actorder", "scale_dtype", "zp_dtype",   "observer", "observer_kwargs"};
        for (const auto& item : w.items())
            if (std::find(std::begin(known), std::end(known), item.key()) == std::end(known))
                unsupported(path + "." + item.key(), item.value(), "a field hone does not know");
        compressed_tensors_scheme s;
        s.bits = 8; // QuantizationArgs' default
        if (const ordered_json* v = get(w, "num_bits")) {
            if (!v->is_number_integer()) wrong(path + ".num_bits", "must be an integer");
            const auto b = v->get<std::int64_t>();
            if (b != 4 && b != 8) unsupported(path + ".num_bits", *v, "hone reads 4 and 8 bits");
            s.bits = static_cast<int>(b);
        }
        if (const ordered_json* v = get(w, "type")) {
            const std::string t = lower_string(*v, path + ".type");
            if (t == "float") unsupported(path + ".type", *v, "hone reads integer weights");
            if (t != "int") wrong(path + ".type", "must be \"int\" or \"float\"");
        }
        if (const ordered_json* v = get(w, "symmetric")) {
            if (!v->is_boolean()) wrong(path + ".symmetric", "must be true or false");
            s.symmetric = v->get<bool>();
        }
        std::optional<std::int64_t> group_size;
        if (const ordered_json* v = get(w, "group_size")) {
            if (!v->is_number_integer()) wrong(path + ".group_size", "must be an integer or null");
            group_size = v->get<std::int64_t>();
        }
        std::string strategy;
        if (const ordered_json* v = get(w, "strategy")) {
            strategy = lower_string(*v, path + ".strategy");
        } else if (!group_size) {
            strategy = "tensor";
        } else if (*group_size > 0) {
            strategy = "group";
        } else if (*group_size == -1) {
            strategy = "channel";
        } else {
            wrong(path + ".group_size", "must be positive (group) or -1 (channel)");
        }
        if (strategy == "group") {
            if (!group_size || *group_size <= 0)
                wrong(path + ".group_size", "must be a positive integer for strategy \"group\"");
            s.group_size = *group_size;
        } else if (strategy == "channel") {
            if (group_size && *group_size > 0)
                wrong(path + ".group_size", "must be null or -1 for strategy \"channel\"");
            s.group_size = 0;
        } else if (strategy == "tensor" || strategy == "block" || strategy == "token" ||
                   strategy == "tensor_group" || strategy == "attn_head") {
            unsupported(path + ".strategy", ordered_json(strategy),
                        "pack-quantized weights in hone are \"group\" or \"channel\"");
        } else {
            wrong(path + ".strategy", fmt::format("has an unknown value \"{}\"", strategy));
        }
        if (const ordered_json* v = get(w, "dynamic")) {
            if (v->is_string() || (v->is_boolean() && v->get<bool>()))
                unsupported(path + ".dynamic", *v, "hone reads static weight scales");
            if (!v->is_boolean()) wrong(path + ".dynamic", "must be a boolean or \"local\"");
        }
        if (const ordered_json* v = get(w, "actorder")) {
            if (v->is_boolean()) {
                if (v->get<bool>())
                    unsupported(path + ".actorder", *v,
                                "group activation order (weight_g_idx) is not read");
            } else {
                const std::string a = lower_string(*v, path + ".actorder");
                if (a == "group" || a == "dynamic")
                    unsupported(path + ".actorder", *v,
                                "group activation order (weight_g_idx) is not read");
                if (a != "weight" && a != "static")
                    wrong(path + ".actorder", fmt::format("has an unknown value \"{}\"", a));
            }
        }
        if (const ordered_json* v = get(w, "block_structure"))
            unsupported(path + ".block_structure", *v, "block quantization is not read");
        return s;
    }

    compressed_tensors_config parse(std::string_view text) const {
        const ordered_json j = ordered_json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object())
            fail(status::format_error, fmt::format("{}: not a JSON object", source));
        const auto it = j.find("quantization_config");
        if (it == j.end())
            fail(status::not_found,
                 fmt::format("{}: field 'quantization_config' missing (not a compressed-tensors "
                             "checkpoint)",
                             source));
        const ordered_json& q = *it;
        if (!q.is_object()) wrong("quantization_config", "must be an object");

        const ordered_json* method = get(q, "quant_method");
        if (!method) wrong("quantization_config.quant_method", "missing");
        if (!method->is_string()) wrong("quantization_config.quant_method", "must be a string");
        if (method->get<std::string>() != method_name)
            unsupported("quantization_config.quant_method", *method,
                        "hone reads \"compressed-tensors\"");
        std::optional<std::string> top_format;
        if (const ordered_json* v = get(q, "format")) {
            if (!v->is_string()) wrong("quantization_config.format", "must be a string");
            top_format = v->get<std::string>();
        }
        if (const ordered_json* v = get(q, "quantization_status")) {
            if (!v->is_string())
                wrong("quantization_config.quantization_status", "must be a string");
            if (v->get<std::string>() != "compressed")
                unsupported("quantization_config.quantization_status", *v,
                            "hone reads compressed (packed) weights");
        }
        if (const ordered_json* v = get(q, "kv_cache_scheme"))
            unsupported("quantization_config.kv_cache_scheme", *v,
                        "KV-cache quantization is not read");
        empty_or_absent(q, "sparsity_config", "sparse compression is not read");
        empty_or_absent(q, "transform_config", "weight transforms are not read");

        compressed_tensors_config config;
        if (const ordered_json* v = get(q, "ignore"))
            config.ignore = strings(*v, "quantization_config.ignore");

        const ordered_json* groups = get(q, "config_groups");
        if (!groups || !groups->is_object() || groups->empty())
            wrong("quantization_config.config_groups", "must be a non-empty object");
        for (const auto& item : groups->items()) {
            const std::string path = "quantization_config.config_groups." + item.key();
            const ordered_json& g = item.value();
            if (!g.is_object()) wrong(path, "must be an object");
            static constexpr std::string_view known[] = {"targets", "weights", "input_activations",
                                                         "output_activations", "format"};
            for (const auto& field : g.items())
                if (std::find(std::begin(known), std::end(known), field.key()) == std::end(known))
                    unsupported(path + "." + field.key(), field.value(),
                                "a field hone does not know");
            compressed_tensors_group group;
            group.name = item.key();
            const ordered_json* targets = get(g, "targets");
            if (!targets) wrong(path + ".targets", "missing");
            group.targets = strings(*targets, path + ".targets");
            std::optional<std::string> fmt_name = top_format;
            std::string fmt_path = "quantization_config.format";
            if (const ordered_json* v = get(g, "format")) {
                if (!v->is_string()) wrong(path + ".format", "must be a string");
                fmt_name = v->get<std::string>();
                fmt_path = path + ".format";
            }
            if (!fmt_name) wrong("quantization_config.format", "missing");
            if (*fmt_name != format_name)
                unsupported(fmt_path, ordered_json(*fmt_name), "hone reads \"pack-quantized\"");
            for (const char* key : {"input_activations", "output_activations"})
                if (const ordered_json* v = get(g, key))
                    unsupported(path + "." + key, *v, "hone reads weight-only quantization");
            const ordered_json* w = get(g, "weights");
            if (!w)
                unsupported(path + ".weights", ordered_json(nullptr),
                            "the group quantizes no weights");
            if (!w->is_object()) wrong(path + ".weights", "must be an object");
            group.scheme = weights(*w, path + ".weights");
            config.groups.push_back(std::move(group));
        }
        return config;
    }
};

// A view of a checkpoint tensor; a copy (kept in `keep`) when another writer stored it at an
// offset not aligned for its type.
const_tensor_view view_of(const checkpoint& ckpt, const std::string& name,
                          std::vector<tensor>& keep) {
    try {
        return ckpt.view(name);
    } catch (const error& e) {
        if (e.code() != status::unsupported) throw;
    }
    keep.push_back(safetensors_file::open(ckpt.shard_of(name)).read(name));
    return keep.back().view();
}

std::string module_prefix(std::string_view weight_name) {
    if (weight_name.ends_with("weight"))
        return std::string(weight_name.substr(0, weight_name.size() - 6));
    return std::string(weight_name) + ".";
}

} // namespace

packed_weight pack_weight(const_tensor_view weight, const compressed_tensors_scheme& scheme,
                          std::span<const float> importance, std::string_view name) {
    check_scheme(scheme, name);
    if (weight.type() != dtype::f32 || weight.rank() != 2)
        fail(status::invalid_argument,
             fmt::format("{}: expected an f32 [out, in] weight, got {} {}", name,
                         name_of(weight.type()), weight.dims().to_string()));
    const std::int64_t out = weight.dims()[0], in = weight.dims()[1];
    if (out == 0 || in == 0)
        fail(status::invalid_argument,
             fmt::format("{}: empty weight {}", name, weight.dims().to_string()));
    if (scheme.group_size > 0 && in % scheme.group_size != 0)
        fail(status::invalid_argument,
             fmt::format("{}: {} input columns are not a multiple of group_size {}", name, in,
                         scheme.group_size));
    if (!importance.empty()) {
        if (static_cast<std::int64_t>(importance.size()) != in)
            fail(status::invalid_argument,
                 fmt::format("{}: {} importance values for {} input columns", name,
                             importance.size(), in));
        for (std::size_t i = 0; i < importance.size(); ++i)
            if (!(importance[i] >= 0) || !std::isfinite(importance[i]))
                fail(status::invalid_argument,
                     fmt::format("{}: importance[{}] = {} is not a finite non-negative number",
                                 name, i, importance[i]));
    }
    tensor gathered;
    const float* w = nullptr;
    if (weight.is_contiguous()) {
        w = weight.span<float>().data();
    } else {
        gathered = tensor::copy_of(weight);
        w = gathered.span<float>().data();
    }
    for (std::int64_t i = 0; i < out * in; ++i)
        if (!std::isfinite(w[i]))
            fail(status::invalid_argument,
                 fmt::format("{}: non-finite value {} at [{}, {}]", name, w[i], i / in, i % in));

    const grid g(scheme.bits);
    const std::int64_t groups = scheme.group_size > 0 ? in / scheme.group_size : 1;
    const std::int64_t group_len = in / groups;
    std::vector<std::int8_t> q(static_cast<std::size_t>(out * in));
    std::vector<group_params> params(static_cast<std::size_t>(out * groups));
    std::vector<unsigned char> overflow(static_cast<std::size_t>(out), 0);
    const float* imp = importance.empty() ? nullptr : importance.data();
    const int threads = out * in >= 32768 ? hone::num_threads() : 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t r = 0; r < out; ++r)
        for (std::int64_t c = 0; c < groups; ++c) {
            const std::int64_t begin = r * in + c * group_len;
            if (!quantize_group(w + begin, imp ? imp + c * group_len : nullptr, group_len, g,
                                scheme.symmetric, scheme.scale_type, q.data() + begin,
                                params[static_cast<std::size_t>(r * groups + c)]))
                overflow[static_cast<std::size_t>(r)] = 1;
        }
    for (std::int64_t r = 0; r < out; ++r)
        if (overflow[static_cast<std::size_t>(r)])
            fail(status::invalid_argument,
                 fmt::format("{}: row {}: the scale overflows {} (store bf16 scales)", name, r,
                             name_of(scheme.scale_type)));

    packed_weight p;
    const std::int64_t row_words = ceil_div(in, g.pack);
    p.weight_packed = tensor(dtype::i32, {out, row_words});
    auto* words = static_cast<std::int32_t*>(p.weight_packed.data());
    for (std::int64_t r = 0; r < out; ++r)
        for (std::int64_t j = 0; j < row_words; ++j) {
            std::uint32_t word = 0;
            for (int k = 0; k < g.pack && j * g.pack + k < in; ++k) {
                const int v = q[static_cast<std::size_t>(r * in + j * g.pack + k)];
                word |= static_cast<std::uint32_t>(v + g.offset) << (g.bits * k);
            }
            words[r * row_words + j] = static_cast<std::int32_t>(word);
        }
    p.weight_scale = tensor(scheme.scale_type, {out, groups});
    auto* scales = static_cast<std::uint16_t*>(p.weight_scale.data());
    for (std::size_t i = 0; i < params.size(); ++i)
        scales[i] = params[i].scale;
    if (!scheme.symmetric) {
        const std::int64_t zero_rows = ceil_div(out, g.pack);
        p.weight_zero_point = tensor(dtype::i32, {zero_rows, groups});
        auto* zw = static_cast<std::int32_t*>(p.weight_zero_point.data());
        for (std::int64_t j = 0; j < zero_rows; ++j)
            for (std::int64_t c = 0; c < groups; ++c) {
                std::uint32_t word = 0;
                for (int k = 0; k < g.pack && j * g.pack + k < out; ++k) {
                    const int z =
                        params[static_cast<std::size_t>((j * g.pack + k) * groups + c)].zero;
                    word |= static_cast<std::uint32_t>(z + g.offset) << (g.bits * k);
                }
                zw[j * groups + c] = static_cast<std::int32_t>(word);
            }
    }
    p.weight_shape = tensor(dtype::i64, {2});
    p.weight_shape.span<std::int64_t>()[0] = out;
    p.weight_shape.span<std::int64_t>()[1] = in;
    return p;
}

tensor unpack_weight(const packed_weight& packed, const compressed_tensors_scheme& scheme,
                     std::string_view name) {
    check_scheme(scheme, name);
    packed_views v;
    v.packed = packed.weight_packed.view();
    v.scale = packed.weight_scale.view();
    v.shape = packed.weight_shape.view();
    v.has_zero_point = packed.weight_zero_point.numel() > 0;
    if (v.has_zero_point) v.zero_point = packed.weight_zero_point.view();
    return unpack_views(v, scheme, location{"", module_prefix(name)});
}

std::vector<safetensors_entry> packed_weight_entries(std::string_view weight_name,
                                                     const packed_weight& packed) {
    if (!weight_name.ends_with("weight"))
        fail(status::invalid_argument,
             fmt::format("packed_weight_entries: '{}' does not end in \"weight\"", weight_name));
    const std::string base(weight_name);
    std::vector<safetensors_entry> entries;
    entries.push_back({base + "_packed", packed.weight_packed.view()});
    entries.push_back({base + "_scale", packed.weight_scale.view()});
    entries.push_back({base + "_shape", packed.weight_shape.view()});
    if (packed.weight_zero_point.numel() > 0)
        entries.push_back({base + "_zero_point", packed.weight_zero_point.view()});
    return entries;
}

std::string quantization_config_json(const compressed_tensors_scheme& scheme,
                                     const std::vector<std::string>& ignore) {
    return dump(config_object(scheme, ignore), "quantization_config");
}

std::string with_quantization_config(std::string_view config_json,
                                     const compressed_tensors_scheme& scheme,
                                     const std::vector<std::string>& ignore,
                                     std::string_view source) {
    ordered_json j = ordered_json::parse(config_json, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        fail(status::format_error, fmt::format("{}: not a JSON object", source));
    if (j.contains("quantization_config"))
        fail(status::invalid_argument,
             fmt::format("{}: already has a quantization_config (its weights are not dense)",
                         source));
    j["quantization_config"] = config_object(scheme, ignore);
    return dump(j, source) + "\n";
}

compressed_tensors_config parse_compressed_tensors_config(std::string_view config_json,
                                                          std::string_view source) {
    return config_reader{std::string(source)}.parse(config_json);
}

llama_weights compressed_tensors_weights(const checkpoint& ckpt) {
    const std::string config_path = (ckpt.folder() / "config.json").string();
    auto config = std::make_shared<const compressed_tensors_config>(
        parse_compressed_tensors_config(ckpt.config_text(), config_path));
    return [ckpt, config](const std::string& name) -> tensor {
        if (!name.ends_with("weight")) return ckpt.read_f32(name);
        const location where{ckpt.folder().string(), module_prefix(name)};
        const std::string packed_name = where.prefix + "weight_packed";
        if (!ckpt.contains(packed_name)) return ckpt.read_f32(name);
        if (ckpt.contains(name))
            bad(where, "weight", fmt::format("present beside '{}'", packed_name));
        std::vector<tensor> keep; // copies of tensors stored unaligned
        auto need = [&](std::string_view field) {
            const std::string n = where.prefix + std::string(field);
            if (!ckpt.contains(n)) bad(where, field, fmt::format("missing (for '{}')", name));
            return view_of(ckpt, n, keep);
        };
        packed_views v;
        v.packed = view_of(ckpt, packed_name, keep);
        v.scale = need("weight_scale");
        v.shape = need("weight_shape");
        v.has_zero_point = ckpt.contains(where.prefix + "weight_zero_point");
        if (v.has_zero_point)
            v.zero_point = view_of(ckpt, where.prefix + "weight_zero_point", keep);
        // The group whose scheme fits the tensors (several groups: mixed precision); when
        // none does, the first one names what is wrong.
        const compressed_tensors_scheme* scheme = nullptr;
        for (const bool exact : {true, false})
            for (const auto& group : config->groups)
                if (!scheme && fits(v, group.scheme, exact)) scheme = &group.scheme;
        return unpack_views(v, scheme ? *scheme : config->groups.front().scheme, where);
    };
}

} // namespace hone::io
