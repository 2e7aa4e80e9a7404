// ONNX reader and writer (see hone/io/onnx.hpp).
#include "hone/io/onnx.hpp"

#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <system_error>
#include <unordered_set>

namespace hone {
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t min_opset = 9;
constexpr std::int64_t max_opset = 21;
constexpr std::int64_t normalized_opset = 13;
// The newest opset the linked libonnx (1.12) knows: onnx::checker runs up to it.
constexpr std::int64_t checker_max_opset = 17;
// TensorProto.DataType values added in IR 10 (ONNX 1.16), absent from libonnx 1.12's enum.
constexpr int onnx_uint4 = 21;
constexpr int onnx_int4 = 22;

std::optional<dtype> dtype_of_onnx(int t) {
    switch (t) {
    case onnx::TensorProto_DataType_FLOAT: return dtype::f32;
    case onnx::TensorProto_DataType_FLOAT16: return dtype::f16;
    case onnx::TensorProto_DataType_BFLOAT16: return dtype::bf16;
    case onnx::TensorProto_DataType_INT8: return dtype::i8;
    case onnx::TensorProto_DataType_UINT8: return dtype::u8;
    case onnx::TensorProto_DataType_INT32: return dtype::i32;
    case onnx::TensorProto_DataType_INT64: return dtype::i64;
    case onnx::TensorProto_DataType_BOOL: return dtype::boolean;
    case onnx_uint4: return dtype::u4;
    case onnx_int4: return dtype::i4;
    default: return std::nullopt;
    }
}

int onnx_of_dtype(dtype t, const std::string& what) {
    switch (t) {
    case dtype::f32: return onnx::TensorProto_DataType_FLOAT;
    case dtype::f16: return onnx::TensorProto_DataType_FLOAT16;
    case dtype::bf16: return onnx::TensorProto_DataType_BFLOAT16;
    case dtype::i8: return onnx::TensorProto_DataType_INT8;
    case dtype::u8: return onnx::TensorProto_DataType_UINT8;
    case dtype::i32: return onnx::TensorProto_DataType_INT32;
    case dtype::i64: return onnx::TensorProto_DataType_INT64;
    case dtype::boolean: return onnx::TensorProto_DataType_BOOL;
    case dtype::u4: return onnx_uint4;
    case dtype::i4: return onnx_int4;
    }
    fail(status::unsupported,
         fmt::format("{}: element type {} has no ONNX tensor type", what, name_of(t)));
}

std::string onnx_type_name(int t) {
    if (t == onnx_uint4) return "UINT4";
    if (t == onnx_int4) return "INT4";
    if (onnx::TensorProto_DataType_IsValid(t))
        return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t));
    return fmt::format("{}", t);
}

// ---- reading ---------------------------------------------------------------------------------

struct reader {
    std::string source; // the file, for messages
    fs::path base_dir;  // canonical model folder ("" = external data refused)
    onnx_load_options options;
    // Reads a subgraph attribute (set by convert: it knows the model's opsets).
    std::function<model(const onnx::GraphProto&, const std::string&)> subgraph;

    [[noreturn]] void bad(const std::string& what) const {
        fail(status::format_error, fmt::format("ONNX '{}': {}", source, what));
    }
    [[noreturn]] void unsupported(const std::string& what) const {
        fail(status::unsupported, fmt::format("ONNX '{}': {}", source, what));
    }

    // The canonical path of an external data location, refused when it leaves the folder.
    fs::path external_path(const std::string& location, const std::string& tensor_name) const {
        const auto field =
            fmt::format("tensor '{}': external_data location '{}'", tensor_name, location);
        if (!options.allow_external_data) unsupported(field + ": external data is disabled");
        if (base_dir.empty()) bad(field + ": no model folder to resolve it against");
        if (location.empty() || location.find('\0') != std::string::npos)
            bad(field + ": empty or contains NUL");
        const fs::path rel(location);
        if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
            bad(field + ": absolute paths are refused");
        for (const auto& part : rel)
            if (part == "..") bad(field + ": '..' is refused");
        std::error_code ec;
        const auto full = fs::canonical(base_dir / rel, ec);
        if (ec) bad(field + ": cannot be resolved: " + ec.message());
        const auto dir = base_dir.native();
        const auto& f = full.native();
        if (f.size() <= dir.size() || f.compare(0, dir.size(), dir) != 0 || f[dir.size()] != '/')
            bad(field + fmt::format(": resolves to '{}', outside the model folder '{}'",
                                    full.string(), base_dir.string()));
        if (!fs::is_regular_file(full, ec)) bad(field + ": not a regular file");
        return full;
    }

    tensor read_tensor(const onnx::TensorProto& tp, const std::string& what,
                       bool* external = nullptr) const {
        const auto name = what.empty() ? tp.name() : what;
        const auto field = fmt::format("tensor '{}'", name);
        if (tp.has_segment()) unsupported(field + ": segmented tensors are not supported");
        const auto type = dtype_of_onnx(tp.data_type());
        if (!type)
            unsupported(fmt::format("{}: data_type {} is not supported", field,
                                    onnx_type_name(tp.data_type())));
        if (static_cast<std::size_t>(tp.dims_size()) > shape::max_rank)
            bad(fmt::format("{}: {} dimensions (at most {})", field, tp.dims_size(),
                            shape::max_rank));
        std::vector<std::int64_t> dims(tp.dims().begin(), tp.dims().end());
        std::int64_t count = 1;
        for (const auto d : dims) {
            if (d < 0) bad(fmt::format("{}: negative dimension {}", field, d));
            if (d != 0 && count > std::numeric_limits<std::int64_t>::max() / d)
                bad(field + ": element count overflows 64 bits");
            count *= d;
        }
        // INT4 / UINT4: two values per byte, element 2k in the low nibble of byte k, the high
        // nibble of an odd count's last byte unused (hone's i4/u4 layout too).
        const bool packed = is_packed(*type);
        const auto elem = packed ? std::size_t{1} : size_of(*type);
        if (count > std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(elem))
            bad(field + ": byte size overflows 64 bits");
        const auto bytes = packed ? static_cast<std::uint64_t>(count / 2 + count % 2)
                                  : static_cast<std::uint64_t>(count) * elem;
        const shape s{std::span<const std::int64_t>(dims)};
        const auto size_rule =
            packed ? fmt::format("dims {} ({} 4-bit values, two per byte) "
                                 "need ceil({}/2) = {} bytes",
                                 s.to_string(), count, count, bytes)
                   : fmt::format("dims {} × {} bytes = {}", s.to_string(), elem, bytes);
        // The unused high nibble of an odd count's last byte is cleared (deterministic bytes).
        auto clear_padding = [&](tensor& t) {
            if (packed && count % 2 == 1) static_cast<std::uint8_t*>(t.data())[bytes - 1] &= 0x0f;
        };

        const bool is_external = tp.data_location() == onnx::TensorProto_DataLocation_EXTERNAL;
        if (external) *external = is_external;
        if (is_external) {
            std::string location;
            std::uint64_t offset = 0, length = 0;
            bool has_length = false;
            std::set<std::string> keys;
            for (const auto& kv : tp.external_data()) {
                if (!keys.insert(kv.key()).second)
                    bad(fmt::format("{}: external_data key '{}' given twice", field, kv.key()));
                auto number = [&](const std::string& v) {
                    if (v.empty() || v.size() > 19 ||
                        v.find_first_not_of("0123456789") != std::string::npos)
                        bad(fmt::format("{}: external_data {} '{}' is not a non-negative integer",
                                        field, kv.key(), v));
                    return static_cast<std::uint64_t>(std::stoull(v));
                };
                if (kv.key() == "location")
                    location = kv.value();
                else if (kv.key() == "offset")
                    offset = number(kv.value());
                else if (kv.key() == "length")
                    length = number(kv.value()), has_length = true;
                else if (kv.key() == "checksum") {
                } else
                    bad(fmt::format("{}: unknown external_data key '{}'", field, kv.key()));
            }
            if (!tp.raw_data().empty()) bad(field + ": external data and raw_data both present");
            const auto path = external_path(location, name);
            std::error_code ec;
            const auto file_size = fs::file_size(path, ec);
            if (ec)
                bad(fmt::format("{}: cannot stat '{}': {}", field, path.string(), ec.message()));
            if (has_length && length != bytes)
                bad(fmt::format("{}: external_data length {} but {}", field, length, size_rule));
            if (offset > file_size || bytes > file_size - offset)
                bad(fmt::format("{}: external data [{}, {}+{}) lies outside '{}' ({} bytes)", field,
                                offset, offset, bytes, location, file_size));
            tensor t(*type, s);
            std::ifstream in(path, std::ios::binary);
            if (!in)
                fail(status::io_error,
                     fmt::format("ONNX '{}': {}: cannot open '{}'", source, field, path.string()));
            in.seekg(static_cast<std::streamoff>(offset));
            in.read(static_cast<char*>(t.data()), static_cast<std::streamsize>(bytes));
            if (!in || static_cast<std::uint64_t>(in.gcount()) != bytes)
                fail(status::io_error, fmt::format("ONNX '{}': {}: short read from '{}'", source,
                                                   field, path.string()));
            clear_padding(t);
            return t;
        }
        if (tp.has_raw_data()) {
            const auto& raw = tp.raw_data();
            if (raw.size() != bytes)
                bad(fmt::format("{}: raw_data holds {} bytes but {}", field, raw.size(),
                                size_rule));
            tensor t(*type, s);
            if (bytes) std::memcpy(t.data(), raw.data(), bytes);
            clear_padding(t);
            if (*type == dtype::boolean)
                for (auto& b : t.span<bool>()) {
                    std::uint8_t v;
                    std::memcpy(&v, &b, 1);
                    if (v > 1) bad(field + ": a boolean byte is neither 0 nor 1");
                }
            return t;
        }
        auto expect = [&](std::int64_t have, const char* which) {
            if (have != count)
                bad(fmt::format("{}: {} holds {} values but dims {} need {}", field, which, have,
                                s.to_string(), count));
        };
        // No typed data and no raw data: an empty tensor is fine only when it has no elements.
        const bool any_typed = tp.float_data_size() || tp.int32_data_size() ||
                               tp.int64_data_size() || tp.double_data_size() ||
                               tp.uint64_data_size() || tp.string_data_size();
        if (!any_typed && count != 0)
            bad(fmt::format("{}: no data (dims {} need {} values)", field, s.to_string(), count));
        tensor t(*type, s);
        if (packed) {
            // int32_data holds the packed bytes, one per entry (onnx.helper.make_tensor).
            if (tp.int32_data_size() != static_cast<std::int64_t>(bytes))
                bad(fmt::format("{}: int32_data holds {} values but {}", field,
                                tp.int32_data_size(), size_rule));
            auto* out = static_cast<std::uint8_t*>(t.data());
            for (std::uint64_t k = 0; k < bytes; ++k) {
                const std::int32_t v = tp.int32_data(static_cast<int>(k));
                if (v < 0 || v > 255)
                    bad(fmt::format("{}: int32_data[{}] = {} is not a byte of two packed 4-bit "
                                    "values",
                                    field, k, v));
                out[k] = static_cast<std::uint8_t>(v);
            }
            clear_padding(t);
            return t;
        }
        switch (*type) {
        case dtype::f32: {
            expect(tp.float_data_size(), "float_data");
            std::copy(tp.float_data().begin(), tp.float_data().end(), t.span<float>().begin());
            break;
        }
        case dtype::i64: {
            expect(tp.int64_data_size(), "int64_data");
            std::copy(tp.int64_data().begin(), tp.int64_data().end(),
                      t.span<std::int64_t>().begin());
            break;
        }
        case dtype::i32:
        case dtype::i8:
        case dtype::u8:
        case dtype::boolean:
        case dtype::f16:
        case dtype::bf16: {
            expect(tp.int32_data_size(), "int32_data");
            auto* out = static_cast<std::byte*>(t.data());
            for (std::int64_t k = 0; k < count; ++k) {
                const std::int32_t v = tp.int32_data(static_cast<int>(k));
                auto range = [&](std::int64_t lo, std::int64_t hi) {
                    if (v < lo || v > hi)
                        bad(fmt::format("{}: int32_data[{}] = {} is outside [{}, {}] for {}", field,
                                        k, v, lo, hi, name_of(*type)));
                };
                switch (*type) {
                case dtype::i32: std::memcpy(out + 4 * k, &v, 4); break;
                case dtype::i8: {
                    range(-128, 127);
                    const auto b = static_cast<std::int8_t>(v);
                    std::memcpy(out + k, &b, 1);
                    break;
                }
                case dtype::u8:
                case dtype::boolean: {
                    range(0, *type == dtype::boolean ? 1 : 255);
                    const auto b = static_cast<std::uint8_t>(v);
                    std::memcpy(out + k, &b, 1);
                    break;
                }
                default: { // f16/bf16 bit patterns
                    range(0, 65535);
                    const auto b = static_cast<std::uint16_t>(v);
                    std::memcpy(out + 2 * k, &b, 2);
                    break;
                }
                }
            }
            break;
        }
        default: unsupported(fmt::format("{}: element type {}", field, name_of(*type)));
        }
        return t;
    }

    value_info read_value_info(const onnx::ValueInfoProto& vi, const char* role) const {
        value_info v;
        v.name = vi.name();
        const auto field = fmt::format("{} '{}'", role, vi.name());
        if (vi.name().empty()) bad(fmt::format("a {} has an empty name", role));
        if (!vi.has_type()) {
            v.has_shape = false;
            return v;
        }
        if (!vi.type().has_tensor_type())
            unsupported(field + ": only tensor types are supported (not sequences, maps, ...)");
        const auto& tt = vi.type().tensor_type();
        const auto type = dtype_of_onnx(tt.elem_type());
        if (!type)
            unsupported(fmt::format("{}: element type {} is not supported", field,
                                    onnx_type_name(tt.elem_type())));
        v.type = *type;
        if (!tt.has_shape()) {
            v.has_shape = false;
            return v;
        }
        if (static_cast<std::size_t>(tt.shape().dim_size()) > shape::max_rank)
            bad(fmt::format("{}: rank {} is above {}", field, tt.shape().dim_size(),
                            shape::max_rank));
        for (const auto& d : tt.shape().dim()) {
            dimension dim;
            if (d.has_dim_value()) {
                if (d.dim_value() < 0)
                    bad(fmt::format("{}: negative dimension {}", field, d.dim_value()));
                dim.size = d.dim_value();
            } else if (d.has_dim_param()) {
                dim.param = d.dim_param();
            }
            v.dims.push_back(std::move(dim));
        }
        return v;
    }

    attribute read_attribute(const onnx::AttributeProto& a, const std::string& node_label) const {
        const auto field = fmt::format("{}: attribute '{}'", node_label, a.name());
        using A = onnx::AttributeProto;
        switch (a.type()) {
        case A::FLOAT: return attribute::of_float(a.f());
        case A::INT: return attribute::of_int(a.i());
        case A::STRING: return attribute::of_string(a.s());
        case A::TENSOR:
            return attribute::of_tensor(read_tensor(a.t(), node_label + "." + a.name()));
        case A::FLOATS: return attribute::of_floats({a.floats().begin(), a.floats().end()});
        case A::INTS: return attribute::of_ints({a.ints().begin(), a.ints().end()});
        case A::STRINGS: return attribute::of_strings({a.strings().begin(), a.strings().end()});
        case A::GRAPH: return attribute::of_graph(subgraph(a.g(), field));
        case A::GRAPHS: unsupported(field + ": lists of subgraphs are not supported");
        case A::SPARSE_TENSOR:
        case A::SPARSE_TENSORS: unsupported(field + ": sparse tensors are not supported");
        case A::TYPE_PROTO:
        case A::TYPE_PROTOS: unsupported(field + ": type attributes are not supported");
        default: break;
        }
        // Files before IR 3 leave the type unset; infer it from the one field present.
        if (a.has_f()) return attribute::of_float(a.f());
        if (a.has_i()) return attribute::of_int(a.i());
        if (a.has_s()) return attribute::of_string(a.s());
        if (a.has_t()) return attribute::of_tensor(read_tensor(a.t(), node_label + "." + a.name()));
        if (a.floats_size()) return attribute::of_floats({a.floats().begin(), a.floats().end()});
        if (a.ints_size()) return attribute::of_ints({a.ints().begin(), a.ints().end()});
        if (a.strings_size())
            return attribute::of_strings({a.strings().begin(), a.strings().end()});
        bad(field + fmt::format(": unknown or missing type {}", static_cast<int>(a.type())));
    }
};

// ---- opset normalization ---------------------------------------------------------------------

tensor i64_tensor(const std::vector<std::int64_t>& v) {
    tensor t(dtype::i64, shape{static_cast<std::int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.span<std::int64_t>().begin());
    return t;
}
tensor f32_scalar(float v) {
    tensor t(dtype::f32, shape{});
    t.span<float>()[0] = v;
    return t;
}

class normalizer {
public:
    normalizer(model& m, std::int64_t opset) : m_(m), opset_(opset) {
        for (const auto& n : m.nodes) {
            used_.insert(n.name);
            used_.insert(n.outputs.begin(), n.outputs.end());
        }
        for (const auto& v : m.inputs)
            used_.insert(v.name);
        for (const auto& w : m.weight_names())
            used_.insert(w);
    }

    void run() {
        auto in = std::move(m_.nodes);
        m_.nodes.clear();
        std::vector<node> out;
        out.reserve(in.size());
        for (auto& n : in) {
            if (!n.domain.empty())
                out.push_back(std::move(n));
            else
                normalize(std::move(n), out);
        }
        m_.nodes = std::move(out);
    }

private:
    std::string unique(const std::string& stem) {
        std::string name = stem;
        for (int k = 1; used_.count(name); ++k)
            name = fmt::format("{}_{}", stem, k);
        used_.insert(name);
        return name;
    }
    std::string add_const(const node& n, const std::string& what, tensor t) {
        const auto name = unique(n.name + "_" + what);
        m_.set_weight(name, std::move(t), weight_origin::created);
        return name;
    }

    // Moves attribute `attr` (ints) to input position `pos` as an i64 weight.
    void ints_to_input(node& n, const char* attr, std::size_t pos) {
        const auto it = n.attributes.find(attr);
        if (it == n.attributes.end()) return;
        const auto v = n.get_ints(attr, {});
        n.attributes.erase(it);
        if (n.inputs.size() < pos) n.inputs.resize(pos);
        if (n.inputs.size() == pos) n.inputs.emplace_back();
        n.inputs[pos] = add_const(n, attr, i64_tensor(v));
    }

    void normalize(node n, std::vector<node>& out) {
        const auto& op = n.op_type;
        if (op == "Clip" && opset_ < 11) {
            std::string lo, hi;
            if (n.has("min")) lo = add_const(n, "min", f32_scalar(n.get_float("min", 0)));
            if (n.has("max")) hi = add_const(n, "max", f32_scalar(n.get_float("max", 0)));
            n.attributes.erase("min");
            n.attributes.erase("max");
            n.inputs.resize(1);
            if (!hi.empty())
                n.inputs.insert(n.inputs.end(), {lo, hi});
            else if (!lo.empty())
                n.inputs.push_back(lo);
        } else if ((op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") && opset_ < 13) {
            ints_to_input(n, "axes", 1);
        } else if (op == "Split" && opset_ < 13) {
            ints_to_input(n, "split", 1);
        } else if (op == "Slice" && opset_ < 10) {
            const auto starts = n.get_ints("starts", {});
            const auto ends = n.get_ints("ends", {});
            const bool has_axes = n.has("axes");
            const auto axes = n.get_ints("axes", {});
            n.attributes.erase("starts");
            n.attributes.erase("ends");
            n.attributes.erase("axes");
            n.inputs.resize(1);
            n.inputs.push_back(add_const(n, "starts", i64_tensor(starts)));
            n.inputs.push_back(add_const(n, "ends", i64_tensor(ends)));
            if (has_axes) n.inputs.push_back(add_const(n, "axes", i64_tensor(axes)));
        } else if (op == "Pad" && opset_ < 11) {
            const auto pads = n.get_ints("pads", {});
            const float value = n.get_float("value", 0.0f);
            n.attributes.erase("pads");
            n.attributes.erase("value");
            n.inputs.resize(1);
            n.inputs.push_back(add_const(n, "pads", i64_tensor(pads)));
            n.inputs.push_back(add_const(n, "value", f32_scalar(value)));
        } else if (op == "TopK" && opset_ < 10) {
            const auto k = n.get_int("k", 1);
            n.attributes.erase("k");
            n.inputs.resize(1);
            n.inputs.push_back(add_const(n, "k", i64_tensor({k})));
        } else if (op == "Dropout" && opset_ < 12) {
            n.attributes.erase("ratio");
            n.attributes.erase("is_test");
        } else if (op == "Scatter" && opset_ < 13) {
            n.op_type = "ScatterElements";
        } else if ((op == "Upsample" || (op == "Resize" && opset_ < 11))) {
            // Upsample-9 / Resize-10: (X, scales), asymmetric coordinates, nearest rounds down.
            n.op_type = "Resize";
            if (n.inputs.size() >= 2) n.inputs = {n.inputs[0], "", n.inputs[1]};
            if (!n.has("coordinate_transformation_mode"))
                n.attributes["coordinate_transformation_mode"] = attribute::of_string("asymmetric");
            if (n.get_string("mode", "nearest") == "nearest" && !n.has("nearest_mode"))
                n.attributes["nearest_mode"] = attribute::of_string("floor");
        } else if ((op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && opset_ < 13) {
            // Before 13 these coerce the input to 2-D at `axis` (default 1). That is the same
            // as the new single-axis form only when axis is the last one.
            const auto axis = n.get_int("axis", 1);
            if (axis != -1) {
                const auto x = n.inputs.at(0);
                const auto y = n.outputs.at(0);
                const auto flat = unique(n.name + "_flat");
                const auto soft = unique(n.name + "_2d");
                const auto shp = unique(n.name + "_shape");
                node f{unique(n.name + "_flatten"), "Flatten", "", {x}, {flat}, {}};
                f.attributes["axis"] = attribute::of_int(axis);
                node s{unique(n.name + "_shape_of"), "Shape", "", {x}, {shp}, {}};
                node r{unique(n.name + "_reshape"), "Reshape", "", {soft, shp}, {y}, {}};
                n.attributes["axis"] = attribute::of_int(1);
                n.inputs = {flat};
                n.outputs = {soft};
                out.push_back(std::move(f));
                out.push_back(std::move(s));
                out.push_back(std::move(n));
                out.push_back(std::move(r));
                return;
            }
        }
        out.push_back(std::move(n));
    }

    model& m_;
    std::int64_t opset_;
    std::set<std::string> used_;
};

// The scale / zero point of a QuantizeLinear / DequantizeLinear whose inputs are weights,
// checked against the quantized (DQ) or float (Q) input's shape as ONNX defines it: per tensor
// (one value), per axis ([D_axis]) or blocked (opset 21: x's rank, D_axis / block_size along
// the axis; hone needs block_size to divide D_axis). Inputs computed at run time are checked
// when they arrive (hone::kernels::dequantize_linear).
void check_qdq_node(const model& m, const node& n, const reader& r) {
    const auto label = n.label();
    if (n.inputs.size() < 2 || n.inputs[0].empty() || n.inputs[1].empty())
        r.bad(fmt::format("{}: needs inputs x and scale", label));
    for (const auto& [k, a] : n.attributes)
        if ((k == "axis" || k == "block_size" || k == "saturate" || k == "output_dtype") &&
            a.type != attribute::kind::i)
            r.bad(fmt::format("{}: attribute '{}' must be an int", label, k));
    const auto block = n.get_int("block_size", 0);
    if (block != 0 && m.opset < 21)
        r.bad(fmt::format("{}: attribute 'block_size' needs opset 21 (the model imports {})", label,
                          m.opset));
    if (block < 0) r.bad(fmt::format("{}: block_size {} is negative", label, block));
    const bool dq = n.op_type == "DequantizeLinear";
    const auto& xn = n.inputs[0];
    const auto& sn = n.inputs[1];
    const std::string zn = n.inputs.size() > 2 ? n.inputs[2] : std::string();
    if (!m.has_weight(sn)) return; // a computed scale: checked at run time
    const auto& st = m.weight(sn);
    const auto what = fmt::format("{}: scale '{}'", label, sn);
    if (!is_floating(st.type()))
        r.bad(fmt::format("{} is {}, a float type is needed", what, name_of(st.type())));
    if (!zn.empty() && m.has_weight(zn)) {
        const auto& zt = m.weight(zn);
        if (!(zt.dims() == st.dims()))
            r.bad(fmt::format("{}: zero point '{}' has shape {}, the scale {}", label, zn,
                              zt.dims().to_string(), st.dims().to_string()));
        if (dq && m.has_weight(xn) && zt.type() != m.weight(xn).type())
            r.bad(fmt::format("{}: zero point '{}' is {}, x '{}' is {}", label, zn,
                              name_of(zt.type()), xn, name_of(m.weight(xn).type())));
        if (zt.type() != dtype::i8 && zt.type() != dtype::u8 && zt.type() != dtype::i4 &&
            zt.type() != dtype::u4)
            r.unsupported(fmt::format("{}: zero point '{}' is {} (i8, u8, i4 or u4 supported)",
                                      label, zn, name_of(zt.type())));
    }
    if (!m.has_weight(xn)) {
        if (block != 0 && st.dims().rank() == 0)
            r.bad(
                fmt::format("{}: blocked (block_size {}) but the scale is a scalar", what, block));
        return;
    }
    const auto& xt = m.weight(xn);
    if (dq && xt.type() != dtype::i8 && xt.type() != dtype::u8 && xt.type() != dtype::i4 &&
        xt.type() != dtype::u4 && xt.type() != dtype::i32)
        r.bad(fmt::format("{}: x '{}' is {}, not a quantized integer type", label, xn,
                          name_of(xt.type())));
    const auto& xd = xt.dims();
    const auto rank = static_cast<std::int64_t>(xd.rank());
    auto axis = n.get_int("axis", 1);
    if (block == 0 && st.numel() == 1 && st.dims().rank() <= 1) return; // per tensor
    if (axis < -rank || axis >= rank)
        r.bad(fmt::format("{}: axis {} is outside the rank {} of x '{}'", label, axis, rank, xn));
    if (axis < 0) axis += rank;
    const auto d = xd[static_cast<std::size_t>(axis)];
    if (block == 0) {
        if (st.dims().rank() != 1 || st.dims()[0] != d)
            r.bad(fmt::format("{} has shape {}; per axis {} of x '{}' {} it must be [{}] (or one "
                              "value per tensor)",
                              what, st.dims().to_string(), axis, xn, xd.to_string(), d));
        return;
    }
    if (d % block != 0)
        r.bad(fmt::format("{}: block_size {} does not divide dimension {} (= {}) of x '{}' {}",
                          label, block, axis, d, xn, xd.to_string()));
    std::vector<std::int64_t> want(xd.dims().begin(), xd.dims().end());
    want[static_cast<std::size_t>(axis)] = d / block;
    const shape ws{std::span<const std::int64_t>(want)};
    if (!(st.dims() == ws))
        r.bad(fmt::format("{} has shape {}; blocked along axis {} with block_size {}, x '{}' {} "
                          "needs {}",
                          what, st.dims().to_string(), axis, block, xn, xd.to_string(),
                          ws.to_string()));
}

// Reads the ModelProto into a model.
// The body of a graph (the model's or a subgraph's): constants, inputs, outputs, annotations,
// nodes (Constant nodes become weights).
void read_body(const onnx::GraphProto& g, model& m, const reader& r) {
    m.graph_name = g.name();
    if (g.sparse_initializer_size()) r.unsupported("graph: sparse initializers are not supported");

    // Weights: initializers, then Constant nodes.
    for (const auto& init : g.initializer()) {
        if (init.name().empty()) r.bad("an initializer has an empty name");
        if (m.has_weight(init.name()))
            r.bad(fmt::format("initializer '{}' is defined twice", init.name()));
        bool external = false;
        auto t = r.read_tensor(init, init.name(), &external);
        m.set_weight(init.name(), std::move(t),
                     external ? weight_origin::external : weight_origin::initializer);
    }
    for (const auto& vi : g.input()) {
        if (m.has_weight(vi.name())) continue; // IR < 4: initializers listed as inputs
        for (const auto& seen : m.inputs)
            if (seen.name == vi.name())
                r.bad(fmt::format("graph input '{}' is declared twice", vi.name()));
        m.inputs.push_back(r.read_value_info(vi, "graph input"));
    }
    for (const auto& vi : g.output())
        m.outputs.push_back(r.read_value_info(vi, "graph output"));
    for (const auto& vi : g.value_info()) {
        if (vi.name().empty()) continue;
        m.annotations.push_back(r.read_value_info(vi, "value_info"));
    }

    std::set<std::string> names;
    for (int i = 0; i < g.node_size(); ++i) {
        const auto& np = g.node(i);
        node n;
        n.name = np.name();
        n.op_type = np.op_type();
        n.domain = np.domain() == "ai.onnx" ? std::string() : np.domain();
        if (n.op_type.empty()) r.bad(fmt::format("node {} ('{}') has no op_type", i, n.name));
        if (n.name.empty()) {
            n.name = fmt::format("{}_{}", n.op_type, i);
            while (names.count(n.name))
                n.name += "_";
        }
        if (!names.insert(n.name).second)
            r.bad(fmt::format("node name '{}' is used twice", n.name));
        n.inputs.assign(np.input().begin(), np.input().end());
        n.outputs.assign(np.output().begin(), np.output().end());
        for (const auto& a : np.attribute()) {
            if (a.name().empty()) r.bad(fmt::format("{}: an attribute has no name", n.label()));
            if (n.attributes.count(a.name()))
                r.bad(fmt::format("{}: attribute '{}' is given twice", n.label(), a.name()));
            n.attributes.emplace(a.name(), r.read_attribute(a, n.label()));
        }
        if (!n.domain.empty() && !m.domain_opsets.count(n.domain))
            r.bad(fmt::format("{}: domain '{}' is not imported", n.label(), n.domain));
        if (n.domain.empty() && n.op_type == "Constant") {
            if (n.outputs.size() != 1 || n.outputs[0].empty())
                r.bad(fmt::format("{}: needs exactly one output", n.label()));
            if (n.attributes.size() != 1)
                r.bad(fmt::format("{}: needs exactly one value attribute", n.label()));
            const auto& [key, a] = *n.attributes.begin();
            tensor value;
            if (key == "value" && a.type == attribute::kind::t)
                value = a.t->clone();
            else if (key == "value_float" && a.type == attribute::kind::f)
                value = f32_scalar(a.f);
            else if (key == "value_floats" && a.type == attribute::kind::floats) {
                value = tensor(dtype::f32, shape{static_cast<std::int64_t>(a.floats.size())});
                std::copy(a.floats.begin(), a.floats.end(), value.span<float>().begin());
            } else if (key == "value_int" && a.type == attribute::kind::i) {
                value = tensor(dtype::i64, shape{});
                value.span<std::int64_t>()[0] = a.i;
            } else if (key == "value_ints" && a.type == attribute::kind::ints) {
                value = i64_tensor(a.ints);
            } else {
                r.unsupported(fmt::format("{}: attribute '{}' of kind '{}' is not supported",
                                          n.label(), key, name_of(a.type)));
            }
            if (m.has_weight(n.outputs[0]))
                r.bad(fmt::format("{}: output '{}' is already a weight", n.label(), n.outputs[0]));
            m.set_weight(n.outputs[0], std::move(value), weight_origin::constant_node);
            continue;
        }
        m.nodes.push_back(std::move(n));
    }
}

model convert(const onnx::ModelProto& mp, const reader& r) {
    model m;
    m.source = r.source;
    m.ir_version = mp.ir_version();
    m.producer_name = mp.producer_name();
    m.producer_version = mp.producer_version();
    m.doc = mp.doc_string();
    std::int64_t opset = -1;
    for (const auto& imp : mp.opset_import()) {
        const auto& d = imp.domain();
        if (d.empty() || d == "ai.onnx") {
            if (opset != -1) r.bad("opset_import: the default domain is imported twice");
            opset = imp.version();
        } else if (!m.domain_opsets.emplace(d, imp.version()).second) {
            r.bad(fmt::format("opset_import: domain '{}' is imported twice", d));
        }
    }
    if (opset == -1) r.bad("opset_import: no opset for the default ONNX domain");
    if (opset < min_opset || opset > max_opset)
        r.unsupported(fmt::format("opset_import: default-domain opset {} is outside {}..{}", opset,
                                  min_opset, max_opset));
    m.source_opset = opset;
    m.opset = std::max(opset, normalized_opset);
    if (!mp.has_graph()) r.bad("no graph");
    reader rr = r;
    rr.subgraph = [&](const onnx::GraphProto& sg, const std::string& field) {
        model b;
        b.source = r.source;
        b.opset = m.opset;
        b.source_opset = m.source_opset;
        b.domain_opsets = m.domain_opsets;
        if (sg.input_size())
            rr.unsupported(field + ": subgraphs with inputs (Loop, Scan bodies) are not supported");
        read_body(sg, b, rr);
        if (b.source_opset < normalized_opset) normalizer(b, b.source_opset).run();
        return b;
    };
    read_body(mp.graph(), m, rr);
    if (m.source_opset < normalized_opset) normalizer(m, m.source_opset).run();
    validate(m);
    for (const auto& n : m.nodes)
        if (n.domain.empty() && (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear"))
            check_qdq_node(m, n, r);
    return m;
}

// ---- writing ---------------------------------------------------------------------------------

void write_tensor(const tensor& t, const std::string& name, onnx::TensorProto& tp) {
    tp.set_name(name);
    tp.set_data_type(onnx_of_dtype(t.type(), "weight '" + name + "'"));
    for (const auto d : t.dims().dims())
        tp.add_dims(d);
    tp.set_raw_data(static_cast<const char*>(t.data()), t.nbytes());
}

void write_value_info(const value_info& v, onnx::ValueInfoProto& vp) {
    vp.set_name(v.name);
    auto* tt = vp.mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx_of_dtype(v.type, "value '" + v.name + "'"));
    if (!v.has_shape) return;
    auto* sp = tt->mutable_shape();
    for (const auto& d : v.dims) {
        auto* dp = sp->add_dim();
        if (d.is_static())
            dp->set_dim_value(d.size);
        else if (!d.param.empty())
            dp->set_dim_param(d.param);
    }
}

void write_body(const model& m, onnx::GraphProto& g);

void write_attribute(const std::string& name, const attribute& a, onnx::AttributeProto& ap) {
    using A = onnx::AttributeProto;
    ap.set_name(name);
    switch (a.type) {
    case attribute::kind::f: ap.set_type(A::FLOAT), ap.set_f(a.f); break;
    case attribute::kind::i: ap.set_type(A::INT), ap.set_i(a.i); break;
    case attribute::kind::s: ap.set_type(A::STRING), ap.set_s(a.s); break;
    case attribute::kind::t:
        ap.set_type(A::TENSOR);
        if (!a.t) fail(status::invalid_argument, "attribute '" + name + "': null tensor");
        write_tensor(*a.t, "", *ap.mutable_t());
        break;
    case attribute::kind::floats:
        ap.set_type(A::FLOATS);
        for (const auto v : a.floats)
            ap.add_floats(v);
        break;
    case attribute::kind::ints:
        ap.set_type(A::INTS);
        for (const auto v : a.ints)
            ap.add_ints(v);
        break;
    case attribute::kind::strings:
        ap.set_type(A::STRINGS);
        for (const auto& v : a.strings)
            ap.add_strings(v);
        break;
    case attribute::kind::g:
        ap.set_type(A::GRAPH);
        if (!a.g) fail(status::invalid_argument, "attribute '" + name + "': null graph");
        write_body(*a.g, *ap.mutable_g());
        break;
    }
}

onnx::ModelProto to_proto(const model& m) {
    validate(m);
    onnx::ModelProto mp;
    // IR version: what the opset needs (opset 13 → IR 7, 14..18 → IR 8, 19..20 → IR 9, 21 →
    // IR 10, the first with INT4 / UINT4); up to opset 17 at most 8, what libonnx 1.12 checks.
    const std::int64_t needed_ir = m.opset >= 21 ? 10 : m.opset >= 19 ? 9 : m.opset >= 14 ? 8 : 7;
    mp.set_ir_version(std::max<std::int64_t>(std::min<std::int64_t>(m.ir_version, 8), needed_ir));
    mp.set_producer_name(m.producer_name.empty() ? "hone" : m.producer_name);
    mp.set_producer_version(m.producer_version);
    if (!m.doc.empty()) mp.set_doc_string(m.doc);
    auto* def = mp.add_opset_import();
    def->set_domain("");
    def->set_version(m.opset);
    for (const auto& [d, v] : m.domain_opsets) {
        auto* imp = mp.add_opset_import();
        imp->set_domain(d);
        imp->set_version(v);
    }
    write_body(m, *mp.mutable_graph());
    return mp;
}

void write_body(const model& m, onnx::GraphProto& gp) {
    auto* g = &gp;
    g->set_name(m.graph_name.empty() ? "hone" : m.graph_name);
    for (const auto& n : m.nodes) {
        auto* np = g->add_node();
        np->set_name(n.name);
        np->set_op_type(n.op_type);
        if (!n.domain.empty()) np->set_domain(n.domain);
        for (const auto& i : n.inputs)
            np->add_input(i);
        for (const auto& o : n.outputs)
            np->add_output(o);
        for (const auto& [k, a] : n.attributes)
            write_attribute(k, a, *np->add_attribute());
    }
    for (const auto& name : m.weight_names())
        write_tensor(m.weight(name), name, *g->add_initializer());
    for (const auto& v : m.inputs)
        write_value_info(v, *g->add_input());
    for (const auto& v : m.outputs)
        write_value_info(v, *g->add_output());
    for (const auto& v : m.annotations)
        write_value_info(v, *g->add_value_info());
}

// Checks mp with onnx::checker; false (nothing checked) when mp is newer than libonnx knows.
bool run_checker(const onnx::ModelProto& mp, const std::string& what) {
    // libonnx 1.12 knows opsets ≤ 17 and IR ≤ 8: a newer model is beyond what it can judge
    // (it rejects the IR version before looking at anything else). Such a model was checked by
    // to_proto's hone::validate and is re-read by the loader's checks (check_qdq_node, tensor
    // sizes) when loaded; docs/formats.md, "QDQ at opset 21".
    if (mp.ir_version() > onnx::IR_VERSION) return false;
    for (const auto& imp : mp.opset_import())
        if ((imp.domain().empty() || imp.domain() == "ai.onnx") &&
            imp.version() > checker_max_opset)
            return false;
    try {
        onnx::checker::check_model(mp);
    } catch (const std::exception& e) {
        fail(status::format_error, fmt::format("ONNX '{}': onnx::checker: {}", what, e.what()));
    }
    return true;
}

// The check of a model onnx::checker cannot judge: hone's own reader, every check included
// (sizes, names, graph, QDQ scale shapes), on the bytes about to be written.
void self_check(const onnx::ModelProto& mp, const std::string& what) {
    try {
        reader r{what, {}, {}};
        (void)convert(mp, r);
    } catch (const hone::error& e) {
        fail(status::format_error,
             fmt::format("ONNX '{}': the written model does not read back: {}", what, e.what()));
    }
}

} // namespace

model parse_onnx(std::string_view bytes, std::string_view source, const fs::path& base_dir,
                 const onnx_load_options& options) {
    reader r{std::string(source), {}, options};
    if (!base_dir.empty()) {
        std::error_code ec;
        r.base_dir = fs::canonical(base_dir, ec);
        if (ec)
            fail(status::io_error, fmt::format("ONNX '{}': model folder '{}': {}", source,
                                               base_dir.string(), ec.message()));
    }
    if (bytes.size() > options.max_file_bytes || bytes.size() > static_cast<std::size_t>(INT_MAX))
        r.bad(fmt::format("{} bytes is above the limit of {}", bytes.size(),
                          std::min<std::uint64_t>(options.max_file_bytes, INT_MAX)));
    onnx::ModelProto mp;
    google::protobuf::io::ArrayInputStream stream(bytes.data(), static_cast<int>(bytes.size()));
    google::protobuf::io::CodedInputStream coded(&stream);
    coded.SetTotalBytesLimit(INT_MAX);
    coded.SetRecursionLimit(64);
    if (!mp.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
        r.bad("not a valid ModelProto (truncated or corrupt protobuf)");
    return convert(mp, r);
}

model load_onnx(const fs::path& path, const onnx_load_options& options) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec)
        fail(status::io_error,
             fmt::format("ONNX '{}': cannot read: {}", path.string(), ec.message()));
    if (size > options.max_file_bytes)
        fail(status::format_error, fmt::format("ONNX '{}': {} bytes is above the limit of {}",
                                               path.string(), size, options.max_file_bytes));
    const auto bytes = read_file(path);
    auto dir = path.parent_path();
    if (dir.empty()) dir = ".";
    return parse_onnx(bytes, path.string(), dir, options);
}

std::string serialize_onnx(const model& m, bool check) {
    const auto mp = to_proto(m);
    const auto what = m.source.empty() ? std::string("<memory>") : m.source;
    if (check && !run_checker(mp, what)) self_check(mp, what);
    std::string out;
    if (!mp.SerializeToString(&out))
        fail(status::internal, "serialize_onnx: protobuf serialization failed");
    return out;
}

void save_onnx(const model& m, const fs::path& path, const onnx_save_options& options) {
    auto mp = to_proto(m);
    // Checked with every weight inline (the checker would look for the side file on disk).
    if (options.check && !run_checker(mp, path.string())) self_check(mp, path.string());
    std::string side;
    std::string side_name =
        options.external_file.empty() ? path.filename().string() + ".data" : options.external_file;
    if (options.external_threshold > 0) {
        const fs::path rel(side_name);
        if (rel.is_absolute() || rel.has_parent_path() || side_name == "." || side_name == "..")
            fail(status::invalid_argument,
                 fmt::format("save_onnx: external_file '{}' must be a plain file name", side_name));
        for (auto& tp : *mp.mutable_graph()->mutable_initializer()) {
            if (tp.raw_data().size() < options.external_threshold) continue;
            // Align each tensor to 64 bytes inside the side file.
            side.resize((side.size() + 63) / 64 * 64, '\0');
            const auto offset = side.size();
            side += tp.raw_data();
            tp.clear_raw_data();
            tp.set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
            auto add = [&](const char* k, const std::string& v) {
                auto* kv = tp.add_external_data();
                kv->set_key(k);
                kv->set_value(v);
            };
            add("location", side_name);
            add("offset", std::to_string(offset));
            add("length", std::to_string(side.size() - offset));
        }
    }
    std::string out;
    if (!mp.SerializeToString(&out))
        fail(status::internal, "save_onnx: protobuf serialization failed");
    if (!side.empty()) write_file_atomic(path.parent_path() / side_name, side);
    write_file_atomic(path, out);
}

void check_onnx(const fs::path& path) {
    try {
        onnx::checker::check_model(path.string());
    } catch (const std::exception& e) {
        fail(status::format_error,
             fmt::format("ONNX '{}': onnx::checker: {}", path.string(), e.what()));
    }
}

} // namespace hone
