// deploy.cpp — the deployable ONNX file of a candidate (deploy.hpp).
#include "deploy.hpp"

#include <hone/core/error.hpp>
#include <hone/io/onnx.hpp>
#include <hone/io/onnx_integer.hpp>
#include <hone/io/qdq.hpp>
#include <hone/io/safetensors.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <set>

namespace hone::pipeline {

artifact_format parse_artifact_format(std::string_view text) {
    if (text == "qdq") return artifact_format::qdq;
    if (text == "matmulnbits") return artifact_format::matmulnbits;
    if (text == "hone") return artifact_format::hone;
    fail(status::invalid_argument,
         fmt::format("--format '{}': expected qdq, matmulnbits or hone", text));
}

const char* name_of(artifact_format f) {
    switch (f) {
    case artifact_format::matmulnbits: return "matmulnbits";
    case artifact_format::hone: return "hone";
    default: return "qdq";
    }
}

palettized_tensor recluster_exact(const_tensor_view w, int k, bool preserve_sparsity,
                                  const std::string& name) {
    clusterer_config cfg;
    cfg.clusters = std::clamp(k, 2, 256);
    cfg.method = kmeans_method::optimal;
    cfg.preserve_sparsity = preserve_sparsity;
    auto p = clusterer(cfg).cluster(w, {}, name);
    const auto d = p.dequantize();
    const auto a = tensor::copy_of(w);
    const auto ds = d.span<float>();
    const auto as = a.span<float>();
    for (std::size_t i = 0; i < ds.size(); ++i)
        if (ds[i] != as[i])
            fail(status::internal,
                 fmt::format("layer '{}': re-clustering {} values to {} centroids was not exact "
                             "({} vs {} at {})",
                             name, ds.size(), k, ds[i], as[i], i));
    return p;
}

int distinct_values(const_tensor_view w, bool with_zero) {
    const auto t = tensor::copy_of(w);
    std::set<float> v;
    for (const float x : t.span<float>())
        if (with_zero || x != 0.0f) v.insert(x == 0.0f ? 0.0f : x);
    return int(v.size());
}

const char* execution_name(exec_precision p) {
    return p == exec_precision::int8_static    ? "int8 static"
           : p == exec_precision::int8_dynamic ? "int8 dynamic"
                                               : "f32";
}

nlohmann::json spec_json(const quant_spec& s) {
    return {{"bits", s.bits},
            {"signed", s.is_signed},
            {"symmetric", s.symmetric},
            {"granularity", int(s.granularity)},
            {"channel_axis", s.channel_axis},
            {"group_axis", s.group_axis},
            {"group_size", s.group_size},
            {"scale_type", std::string(name_of(s.scale_type))}};
}

quant_spec spec_from_json(const nlohmann::json& j, std::string_view what) {
    try {
        quant_spec s;
        s.bits = j.at("bits").get<int>();
        s.is_signed = j.at("signed").get<bool>();
        s.symmetric = j.at("symmetric").get<bool>();
        s.granularity = quant_granularity(j.at("granularity").get<int>());
        s.channel_axis = j.at("channel_axis").get<int>();
        s.group_axis = j.at("group_axis").get<int>();
        s.group_size = j.at("group_size").get<std::int64_t>();
        const auto t = dtype_from_name(j.at("scale_type").get<std::string>());
        if (!t) fail(status::format_error, fmt::format("{}: unknown scale_type", what));
        s.scale_type = *t;
        return s;
    } catch (const nlohmann::json::exception& e) {
        fail(status::format_error,
             fmt::format("{}: malformed quantization spec ({})", what, e.what()));
    }
}

namespace {

std::filesystem::path packed_file_of(const std::filesystem::path& onnx) {
    auto beside = onnx;
    beside.replace_extension(".safetensors");
    std::error_code ec;
    if (std::filesystem::exists(beside, ec)) return beside;
    const auto in_folder = onnx.parent_path() / "weights.safetensors";
    if (std::filesystem::exists(in_folder, ec)) return in_folder;
    fail(status::not_found,
         fmt::format("model '{}' runs packed weights from hone's safetensors, but neither '{}' "
                     "nor '{}' exists",
                     onnx.string(), beside.string(), in_folder.string()));
}

/// The packed weight-only layers of a --format hone file (see run_options_of).
void add_packed_weights(executor_options& o, const model& file, const nlohmann::json& packed,
                        const std::filesystem::path& path) {
    const auto st = io::safetensors_file::open(packed_file_of(path));
    const auto where = [&](const std::string& w) {
        return fmt::format("{} (in {})", w, st.source());
    };
    const auto layers_text = st.metadata().find("layers");
    if (layers_text == st.metadata().end())
        fail(status::format_error, fmt::format("'{}': no \"layers\" metadata", st.source()));
    const auto layers = nlohmann::json::parse(layers_text->second, nullptr, false);
    const auto all = find_layers(file);
    for (const auto& item : packed.items()) {
        const std::string w = item.key();
        const auto kind = item.value();
        const auto l =
            std::find_if(all.begin(), all.end(), [&](const layer_ref& r) { return r.weight == w; });
        if (l == all.end())
            fail(status::format_error,
                 fmt::format("model '{}': packed weight '{}' is no layer's weight", path.string(),
                             w));
        if (kind == "palettized") {
            const auto nk = weight_nk(file, *l);
            o.palettized_weights[w] = std::make_shared<const palettized_tensor>(
                recluster_exact(nk.view(), distinct_values(nk.view(), true), false, l->name));
            continue;
        }
        if (!layers.is_object() || !layers.contains(w))
            fail(status::format_error, fmt::format("{}: not in the \"layers\" metadata", where(w)));
        const auto& info = layers[w];
        auto q = std::make_shared<quantized_tensor>();
        q->spec = spec_from_json(info.value("spec_fields", nlohmann::json()), where(w));
        q->dims = shape{l->n, l->k};
        const auto type = dtype_from_name(info.value("data_dtype", std::string()));
        if (!type) fail(status::format_error, fmt::format("{}: unknown data_dtype", where(w)));
        const auto bytes = st.read(w + ".qdata");
        q->data = tensor(*type, q->dims);
        if (q->data.nbytes() != bytes.nbytes())
            fail(status::format_error,
                 fmt::format("{}: {} bytes of packed integers for [{}, {}] {}", where(w),
                             bytes.nbytes(), l->n, l->k, name_of(*type)));
        std::memcpy(q->data.data(), bytes.data(), bytes.nbytes());
        q->scales = st.read(w + ".scales");
        if (q->spec.has_zero_points()) {
            const auto zb = st.read(w + ".zero_points");
            q->zero_points = tensor(q->spec.zero_point_type(), q->scales.dims());
            if (q->zero_points.nbytes() != zb.nbytes())
                fail(status::format_error,
                     fmt::format("{}: {} bytes of zero points, {} expected", where(w), zb.nbytes(),
                                 q->zero_points.nbytes()));
            std::memcpy(q->zero_points.data(), zb.data(), zb.nbytes());
        } else {
            q->zero_points = tensor(q->spec.zero_point_type(), shape{0});
        }
        q->validate(where(w));
        o.int4_weights[w] = std::move(q);
    }
}

} // namespace

executor_options run_options_of(const model& file, const std::filesystem::path& path) {
    executor_options o;
    const auto doc = nlohmann::json::parse(file.doc, nullptr, false);
    if (!doc.is_object() || !doc.contains("hone") || !doc["hone"].is_object()) return o;
    const auto& h = doc["hone"];
    try {
        const auto exec = h.value("execution", std::string("f32"));
        o.precision = exec == "int8 static"    ? exec_precision::int8_static
                      : exec == "int8 dynamic" ? exec_precision::int8_dynamic
                                               : exec_precision::f32;
        if (h.contains("f32_nodes")) o.f32_nodes = h["f32_nodes"].get<std::vector<std::string>>();
        if (h.contains("activation_ranges"))
            for (const auto& [name, r] : h["activation_ranges"].items())
                o.activation_ranges[name] = {r.at(0).get<float>(), r.at(1).get<float>()};
        if (!path.empty() && h.contains("packed_weights") && !h["packed_weights"].empty())
            add_packed_weights(o, file, h["packed_weights"], path);
    } catch (const nlohmann::json::exception& e) {
        fail(status::format_error,
             fmt::format("model '{}': the doc string's \"hone\" object is malformed ({})",
                         file.source, e.what()));
    }
    return o;
}

namespace {

/// to_qdq's options for the file (grids aside).
qdq_options qdq_options_of(const deploy_input& in) {
    qdq_options o;
    o.quantize_weights = in.execution != exec_precision::f32;
    o.f32_nodes = in.f32_nodes;
    for (const auto& l : in.layers) {
        if (l.quantized) {
            o.weights.emplace(l.ref.weight, quantized_to_stored(l.ref, *l.quantized));
        } else if (l.palettized && in.execution == exec_precision::f32) {
            // Indices + codebook of the weight as it runs, in the stored layout (pruned and
            // clustered weights: the zeros are one more entry).
            const auto& w = in.candidate->weight(l.ref.weight);
            const int k = distinct_values(w.view(), true);
            if (k <= 256)
                o.palettes.emplace(l.ref.weight, recluster_exact(w.view(), k, false, l.ref.name));
        }
    }
    return o;
}

} // namespace

std::vector<std::string> deploy_grid_tensors(const deploy_input& in) {
    // Grids are for int8 static, where every layer not in f32_nodes is quantized: which layers
    // those are needs no weights (make_deployable moves them to the stored layout once).
    qdq_options o;
    o.f32_nodes = in.f32_nodes;
    return qdq_activation_tensors(*in.candidate, o);
}

namespace {

std::string describe(const deploy_input& in, const model& file) {
    std::set<std::string> ops;
    for (const auto& n : file.nodes)
        if (n.op_type == "DequantizeLinear" || n.op_type == "QuantizeLinear" ||
            n.op_type == "MatMulNBits" || n.op_type == "MatMulInteger" ||
            n.op_type == "ConvInteger" || n.op_type == "DynamicQuantizeLinear" ||
            n.op_type == "Gather")
            ops.insert(n.op_type);
    std::string list;
    for (const auto& o : ops)
        list += (list.empty() ? "" : ", ") + o;
    const char* exec =
        in.execution == exec_precision::f32 ? "weight-only" : execution_name(in.execution);
    return fmt::format("ONNX opset {}, {} ({})", file.opset, exec,
                       list.empty() ? "f32 weights" : list);
}

} // namespace

deployable make_deployable(const deploy_input& in, artifact_format f, const std::string& source) {
    if (f == artifact_format::hone)
        fail(status::internal, "make_deployable: hone's packed format is written by the caller");
    const model& cand = *in.candidate;
    auto o = qdq_options_of(in);
    model file;
    if (in.execution == exec_precision::int8_dynamic) {
        // DynamicQuantizeLinear + MatMulInteger / ConvInteger, as quantize_dynamic writes it.
        dynamic_int8_options d;
        d.weights = std::move(o.weights);
        d.f32_nodes = in.f32_nodes;
        file = to_dynamic_int8(cand, d);
    } else {
        // int8 static: every layer's grids; otherwise only an int8 KV cache's (if any).
        if (in.execution == exec_precision::int8_static || !in.grids.empty())
            o.activations = qdq_activations_from_ranges(in.grids);
        file = to_qdq(cand, o);
        // 4-bit per-group MatMul/Gemm weights as com.microsoft.MatMulNBits.
        if (f == artifact_format::matmulnbits) file = to_matmul_nbits(file);
    }
    file.producer_name = "hone";
    // How the file runs, for hone validate and engines that embed hone: the Q/DQ pairs carry
    // the activation grids, so no ranges.
    file.doc =
        nlohmann::json{
            {"hone",
             {{"recipe", nlohmann::json::parse(in.recipe_json.empty() ? "null" : in.recipe_json)},
              {"format", name_of(f)},
              {"execution", execution_name(in.execution)},
              {"f32_nodes", in.f32_nodes}}}}
            .dump();
    deployable d;
    d.bytes = serialize_onnx(file);
    d.m = parse_onnx(d.bytes, source, "");
    d.exec = run_options_of(d.m);
    d.form = describe(in, d.m);
    return d;
}

} // namespace hone::pipeline
