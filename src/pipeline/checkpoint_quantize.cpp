// A LLaMA checkpoint folder → GGUF, piece by piece, resumable (hone/pipeline/
// checkpoint_quantize.hpp).
#include "hone/pipeline/checkpoint_quantize.hpp"

#include "flow.hpp"
#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/io/checkpoint.hpp"
#include "hone/io/compressed_tensors.hpp"
#include "hone/io/gguf_llama.hpp"
#include "hone/io/safetensors.hpp"
#include "hone/kernels/convert.hpp"
#include "hone/kernels/gguf_blocks.hpp"
#include "hone/model/llama.hpp"

#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

namespace hone {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// ---- one weight ---------------------------------------------------------------------------

struct quantized_weight {
    checkpoint_tensor_report report;
    // As stored in the output: u8 [n], a tensor so that 1 MiB or more is its own mapping,
    // returned to the system when freed (hone/core/tensor.hpp; docs/scale.md, "Memory").
    tensor bytes;
    tensor dequantized; // the checkpoint's layout: what the engine computes with (or empty:
                        // dequantized_of makes it from the bytes)
    std::int64_t gguf_heads = 0; // q/k rows reordered for llama.cpp's rope
};

tensor bytes_tensor(std::string_view bytes) {
    tensor t(dtype::u8, shape{std::int64_t(bytes.size())});
    if (!bytes.empty()) std::memcpy(t.data(), bytes.data(), bytes.size());
    return t;
}

// ‖W − Ŵ‖ / ‖W‖, plain and with each column weighted by its importance.
void set_errors(checkpoint_tensor_report& r, const tensor& w, const tensor& back,
                std::span<const float> importance) {
    const std::int64_t cols = w.dims()[w.dims().rank() - 1];
    const auto a = w.span<float>();
    const auto b = back.span<float>();
    double err = 0, norm = 0, werr = 0, wnorm = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = double(a[i]) - double(b[i]), x2 = double(a[i]) * double(a[i]);
        const double imp = importance.empty() ? 1.0 : double(importance[i % std::size_t(cols)]);
        err += d * d;
        norm += x2;
        werr += imp * d * d;
        wnorm += imp * x2;
    }
    r.relative_rmse = norm > 0 ? std::sqrt(err / norm) : 0.0;
    r.weighted_relative_rmse = wnorm > 0 ? std::sqrt(werr / wnorm) : 0.0;
}

// The requested type, or the first fallback whose block divides the row (llama.cpp's habit).
io::gguf_type pick_type(io::gguf_type wanted, std::int64_t cols) {
    std::vector<io::gguf_type> chain{wanted};
    if (wanted == io::gguf_type::q4_k) chain.push_back(io::gguf_type::q4_0);
    if (wanted != io::gguf_type::q8_0) chain.push_back(io::gguf_type::q8_0);
    for (const io::gguf_type t : chain)
        if (cols % std::int64_t(io::gguf_block_size(t)) == 0) return t;
    return io::gguf_type::f16;
}

// One row of GGUF bytes (F16 or a block type) into dst f32 [1, cols].
void decode_row(io::gguf_type type, std::span<const std::byte> src, tensor_view dst) {
    if (type == io::gguf_type::f16) {
        const auto bits = make_view(src.data(), src.size(), dtype::f16, dst.dims());
        kernels::convert(bits, dst);
    } else {
        kernels::dequantize_gguf_rows(kernels::gguf_block_type(type), src, dst);
    }
}

quantized_weight quantize_weight(const llama_config& config, const std::string& source,
                                 const tensor& w, io::gguf_type wanted,
                                 std::span<const float> importance) {
    quantized_weight q;
    q.report.source = source;
    q.report.name = io::gguf_llama_name(source);
    for (std::size_t a = w.dims().rank(); a-- > 0;)
        q.report.dims.push_back(std::uint64_t(w.dims()[a]));
    if (w.dims().rank() == 1) { // RMSNorm weights stay f32
        q.report.type = "F32";
        q.bytes = bytes_tensor({static_cast<const char*>(w.data()), w.nbytes()});
        q.report.bytes = q.bytes.nbytes();
        q.dequantized = tensor::copy_of(w.view());
        return q;
    }
    const std::int64_t cols = w.dims()[1];
    const std::int64_t heads = io::gguf_llama_permuted_heads(config, source);
    // Only q/k get a reordered copy: for the others the checkpoint's rows are the file's.
    const tensor permuted = heads ? io::gguf_llama_permute_rows(w.view(), heads, false) : tensor();
    const const_tensor_view stored = heads ? permuted.view() : w.view();
    const io::gguf_type type = pick_type(wanted, cols);
    q.report.type = std::string(io::gguf_type_name(type));
    q.bytes = tensor(dtype::u8, shape{std::int64_t(io::gguf_tensor_bytes(type, q.report.dims))});
    q.report.bytes = q.bytes.nbytes();
    const std::span<std::byte> dst(static_cast<std::byte*>(q.bytes.data()), q.bytes.nbytes());
    if (type == io::gguf_type::f16) {
        tensor half_bits(dtype::f16, w.dims());
        kernels::convert(stored, half_bits.view());
        std::memcpy(dst.data(), half_bits.data(), dst.size());
    } else {
        kernels::quantize_gguf_rows(kernels::gguf_block_type(type), stored, importance, dst);
    }
    // The errors row by row (the file's row order: the sums are the same), so that the
    // dequantized matrix is made only when a caller asks for it (gguf_dequantized), after the
    // f32 one is gone.
    const float* in_order = static_cast<const float*>(stored.data()); // w or permuted: contiguous
    const std::int64_t rows = w.dims()[0];
    const std::size_t row_bytes = dst.size() / std::size_t(rows);
    tensor row(dtype::f32, shape{1, cols});
    double err = 0, norm = 0, werr = 0, wnorm = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
        decode_row(type, dst.subspan(std::size_t(r) * row_bytes, row_bytes), row.view());
        const float* a = in_order + r * cols;
        const auto b = row.span<float>();
        for (std::int64_t k = 0; k < cols; ++k) {
            const double x = a[std::size_t(k)], d = x - double(b[std::size_t(k)]);
            const double imp = importance.empty() ? 1.0 : double(importance[std::size_t(k)]);
            err += d * d;
            norm += x * x;
            werr += imp * d * d;
            wnorm += imp * x * x;
        }
    }
    q.report.relative_rmse = norm > 0 ? std::sqrt(err / norm) : 0.0;
    q.report.weighted_relative_rmse = wnorm > 0 ? std::sqrt(werr / wnorm) : 0.0;
    q.gguf_heads = heads;
    return q;
}

// The values llama.cpp computes with, in the checkpoint's layout: q.dequantized when the
// encoder made it (F32, compressed-tensors), else decoded from the GGUF bytes.
tensor dequantized_of(quantized_weight& q) {
    if (q.dequantized.dims().numel() > 0) return std::move(q.dequantized);
    std::vector<std::int64_t> dims;
    for (auto it = q.report.dims.rbegin(); it != q.report.dims.rend(); ++it)
        dims.push_back(std::int64_t(*it));
    tensor back(dtype::f32, shape(dims));
    const auto type = io::gguf_type_from_name(q.report.type).value();
    const std::span<const std::byte> src(static_cast<const std::byte*>(q.bytes.data()),
                                         q.bytes.nbytes());
    const std::size_t row_bytes = src.size() / std::size_t(dims[0]);
    for (std::int64_t r = 0; r < dims[0]; ++r)
        decode_row(type, src.subspan(std::size_t(r) * row_bytes, row_bytes),
                   back.view().slice(0, r, r + 1));
    return q.gguf_heads ? io::gguf_llama_permute_rows(back.view(), q.gguf_heads, true)
                        : std::move(back);
}

// compressed-tensors: the seven linear layers of each block packed (pack-quantized), every other
// tensor kept in the checkpoint's dtype; the bytes are a small safetensors file per tensor.
bool is_block_linear(std::string_view name) {
    for (const char* part :
         {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
        if (name.starts_with("model.layers.") && name.ends_with(std::string(part) + ".weight"))
            return true;
    return false;
}

std::string scheme_name(const io::compressed_tensors_scheme& s) {
    return fmt::format("int{} {} {}", s.bits,
                       s.group_size > 0 ? fmt::format("g{}", s.group_size) : "channel",
                       s.symmetric ? "symmetric" : "asymmetric");
}

quantized_weight pack_for_checkpoint(const io::checkpoint& ckpt, const std::string& name,
                                     const tensor& w, std::span<const float> importance,
                                     const io::compressed_tensors_scheme& scheme) {
    quantized_weight q;
    q.report.source = q.report.name = name;
    for (const std::int64_t d : w.dims().dims())
        q.report.dims.push_back(std::uint64_t(d));
    if (is_block_linear(name)) {
        const io::packed_weight packed = io::pack_weight(w.view(), scheme, importance, name);
        const auto prefix =
            std::string_view(name).substr(0, name.size() - std::string_view("weight").size());
        q.bytes = bytes_tensor(io::serialize_safetensors(
            io::packed_weight_entries(std::string(prefix) + "weight", packed)));
        q.dequantized = io::unpack_weight(packed, scheme, name);
        q.report.type = scheme_name(scheme);
        set_errors(q.report, w, q.dequantized, importance);
    } else { // kept as it was: the checkpoint's dtype, the exact values
        const dtype stored = ckpt.info(name).type;
        tensor t(stored, w.dims());
        kernels::convert(w.view(), t.view());
        const io::safetensors_entry e[] = {{name, t.view()}};
        q.bytes = bytes_tensor(io::serialize_safetensors(e));
        q.dequantized = tensor::copy_of(w.view());
        q.report.type = std::string(io::safetensors_dtype_name(stored));
    }
    q.report.bytes = 0;
    const auto file = io::safetensors_file::parse(
        {static_cast<const std::byte*>(q.bytes.data()), q.bytes.nbytes()}, name);
    for (const auto& t : file.tensors())
        q.report.bytes += t.end - t.begin;
    return q;
}

// ---- calibration importance -----------------------------------------------------------------

// The mean square of each column (last axis) of x over all its rows: llama.cpp's imatrix entry
// for a layer whose input is x.
std::vector<float> column_mean_squares(const_tensor_view x) {
    const tensor v = tensor::copy_of(x);
    const std::int64_t cols = v.dims()[v.dims().rank() - 1];
    const std::int64_t rows = cols > 0 ? v.dims().numel() / cols : 0;
    const auto e = v.span<float>();
    std::vector<double> sums(std::size_t(cols), 0.0);
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t k = 0; k < cols; ++k) {
            const double d = e[std::size_t(r * cols + k)];
            sums[std::size_t(k)] += d * d;
        }
    std::vector<float> mean(sums.size());
    for (std::size_t k = 0; k < sums.size(); ++k)
        mean[k] = float(sums[k] / double(std::max<std::int64_t>(rows, 1)));
    return mean;
}

// ---- pieces -----------------------------------------------------------------------------------

std::string piece_reports(std::int64_t i) { return fmt::format("piece-{:04}.json", i); }
std::string piece_folder(std::int64_t i) { return fmt::format("piece-{:04}.part", i); }
std::string hidden_file(std::int64_t i) { return fmt::format("hidden-{:04}.safetensors", i); }

// Where a piece's tensors go as they are made: each one's encoded bytes (GGUF bytes, or a small
// safetensors file for compressed-tensors) to its own file in the piece's folder (atomic), so a
// piece never holds more than one encoded tensor in memory. The piece is committed later by its
// reports file (commit_piece).
struct piece_writer {
    fs::path folder;
    /// Encodes checkpoint tensor `name` (f32 `w`) for the output; `head`: the LM head.
    std::function<quantized_weight(const std::string& name, const tensor& w,
                                   std::span<const float> importance, bool head)>
        encode;
    std::vector<checkpoint_tensor_report> reports;                        // in file order
    std::map<std::string, checkpoint_tensor_report, std::less<>> pending; // made, not yet placed

    void store(quantized_weight&& q, bool in_order = true) {
        write_file_atomic(folder / q.report.name,
                          {static_cast<const char*>(q.bytes.data()), q.bytes.nbytes()});
        if (in_order)
            reports.push_back(q.report);
        else
            pending.emplace(q.report.source, q.report);
    }
    bool has(std::string_view source) const { return pending.find(source) != pending.end(); }
    void place(const std::string& source) {
        reports.push_back(pending.at(source));
        pending.erase(source);
    }
};

// Calibration tokens and hidden states are optional: an empty tensor is none.
bool present(const tensor& t) { return t.dims().numel() > 0; }

bool four_bit(io::gguf_type t) { return t == io::gguf_type::q4_0 || t == io::gguf_type::q4_k; }

// The token embedding; returns the calibration hidden states after it.
tensor embedding_piece(const io::checkpoint& ckpt, const checkpoint_quantize_options& o,
                       piece_writer& out) {
    const tensor w = ckpt.read_f32("model.embed_tokens.weight");
    quantized_weight q = out.encode("model.embed_tokens.weight", w, {}, false);
    tensor hidden;
    if (present(o.calibration))
        hidden =
            llama_embed(o.sequential ? dequantized_of(q).view() : w.view(), o.calibration.view());
    out.store(std::move(q));
    return hidden;
}

// Block `layer`: its two norms and seven matrices. With calibration the block runs on the
// calibration hidden states and each matrix is quantized when its layer is about to run, with
// the importance of the input it is about to multiply; the layer then runs with the quantized
// weights (sequential) or its f32 weights. Returns the hidden states after the block.
tensor block_piece(const io::checkpoint& ckpt, const llama_config& c, std::int64_t layer,
                   const checkpoint_quantize_options& o, const tensor& hidden_in,
                   piece_writer& out) {
    const llama_weights read = [&](const std::string& name) { return ckpt.read_f32(name); };
    tensor hidden;
    if (present(hidden_in)) {
        const llama_positions pos = llama_position_inputs(c, hidden_in.dims()[1]);
        const llama_linear_hook hook = [&](const std::string& name, const_tensor_view input) {
            tensor w = read(name);
            quantized_weight q = out.encode(name, w, column_mean_squares(input), false);
            if (!o.sequential) {
                out.store(std::move(q), false);
                return w;
            }
            w = tensor(); // before the dequantized copy is made
            tensor run = dequantized_of(q);
            out.store(std::move(q), false);
            return run;
        };
        hidden = llama_run_block(c, layer, read, hidden_in.view(), pos, hook);
    }
    // In llama.cpp's order: attn_norm, q, k, v, output, ffn_norm, gate, up, down.
    std::vector<std::string> order{llama_norm_name(layer, true)};
    for (const llama_linear l : llama_linears) {
        if (l == llama_linear::gate_proj) order.push_back(llama_norm_name(layer, false));
        order.push_back(llama_weight_name(layer, l));
    }
    for (const auto& name : order)
        if (!out.has(name)) out.store(out.encode(name, read(name), {}, false), false);
    for (const auto& name : order)
        out.place(name);
    return hidden;
}

void head_piece(const io::checkpoint& ckpt, const llama_config& c, const tensor& hidden_in,
                piece_writer& out) {
    const llama_weights read = [&](const std::string& name) { return ckpt.read_f32(name); };
    out.store(out.encode("model.norm.weight", read("model.norm.weight"), {}, false));
    if (c.tie_word_embeddings) return;
    std::vector<float> imp;
    if (present(hidden_in))
        imp = column_mean_squares(llama_final_norm(c, read, hidden_in.view()).view());
    out.store(out.encode("lm_head.weight", read("lm_head.weight"), imp, true));
}

// ---- the work folder --------------------------------------------------------------------------

json report_json(const checkpoint_tensor_report& r) {
    return {{"name", r.name},
            {"source", r.source},
            {"type", r.type},
            {"dims", r.dims},
            {"bytes", r.bytes},
            {"relative_rmse", r.relative_rmse},
            {"weighted_relative_rmse", r.weighted_relative_rmse}};
}

checkpoint_tensor_report report_from_json(const json& j) {
    checkpoint_tensor_report r;
    r.name = j.at("name").get<std::string>();
    r.source = j.at("source").get<std::string>();
    r.type = j.at("type").get<std::string>();
    r.dims = j.at("dims").get<std::vector<std::uint64_t>>();
    r.bytes = j.at("bytes").get<std::uint64_t>();
    r.relative_rmse = j.at("relative_rmse").get<double>();
    r.weighted_relative_rmse = j.at("weighted_relative_rmse").get<double>();
    return r;
}

// Commits piece i: the hidden states after it first, then its reports (the commit mark); the
// hidden states of the piece before are then no longer needed.
// Commits piece i. The hidden states before it are dropped, unless piece i is the first of
// its rank's range (`first`): the rank before may still need to send them again on a resume.
void commit_piece(const fs::path& work, std::int64_t i, const piece_writer& p, const tensor& hidden,
                  std::int64_t first) {
    if (present(hidden)) {
        const io::safetensors_entry h[] = {{"hidden", hidden.view()}};
        io::save_safetensors(work / hidden_file(i), h);
    }
    json reports = json::array();
    for (const auto& r : p.reports)
        reports.push_back(report_json(r));
    write_file_atomic(work / piece_reports(i), reports.dump(1) + "\n");
    if (i > first) fs::remove(work / hidden_file(i - 1));
}

// The work folder's identity: what the pieces were computed from.
json work_state(const checkpoint_quantize_options& o, const checkpoint_quantize_result& r,
                std::int64_t pieces) {
    json shards = json::array();
    for (const auto& s : r.shards)
        shards.push_back({{"file", fs::path(s.path).filename().string()},
                          {"sha256", s.sha256},
                          {"bytes", s.bytes}});
    return {{"format", "hone checkpoint quantization work folder 1"},
            {"output", o.format == checkpoint_format::gguf
                           ? std::string(io::gguf_type_name(o.type))
                           : "compressed-tensors " + scheme_name(o.scheme)},
            {"sequential", o.sequential},
            {"calibration_sha256", r.calibration_sha256},
            {"shards", shards},
            {"pieces", pieces}};
}

void open_work_folder(const fs::path& work, const json& state) {
    const fs::path state_file = work / "state.json";
    if (fs::exists(state_file)) {
        const json found = json::parse(read_file(state_file), nullptr, false);
        if (found.is_discarded() || !found.is_object())
            fail(status::invalid_argument,
                 fmt::format("{}: not a hone work folder state; delete the folder to start over",
                             state_file.string()));
        for (const auto& [key, value] : state.items())
            if (!found.contains(key) || found[key] != value)
                fail(status::invalid_argument,
                     fmt::format("work folder {} was made from other inputs ('{}' differs: {} "
                                 "there, {} now); delete it to start over",
                                 work.string(), key, found.value(key, json()).dump(),
                                 value.dump()));
        return;
    }
    fs::create_directories(work);
    write_file_atomic(state_file, state.dump(2) + "\n");
}

// ---- across ranks ------------------------------------------------------------------------------

json artifacts_json(const std::vector<artifact_ref>& refs) {
    json a = json::array();
    for (const auto& r : refs)
        a.push_back({{"path", r.path}, {"sha256", r.sha256}, {"bytes", r.bytes}});
    return a;
}

std::vector<artifact_ref> artifacts_from_json(const json& a) {
    std::vector<artifact_ref> refs;
    for (const auto& r : a)
        refs.push_back({r.at("path").get<std::string>(), r.at("sha256").get<std::string>(),
                        r.at("bytes").get<std::uint64_t>()});
    return refs;
}

std::vector<std::byte> bytes_of(const std::string& text) {
    const auto b = std::as_bytes(std::span(text));
    return {b.begin(), b.end()};
}

json json_of(const std::vector<std::byte>& bytes) {
    return json::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// The shards' hashes: each rank hashes its share (a full read of a large checkpoint), every
// rank gets all of them.
std::vector<artifact_ref> hash_shards(const std::vector<fs::path>& shards, process_group* group) {
    const auto [first, last] = rank_range(static_cast<std::int64_t>(shards.size()),
                                          group ? group->rank() : 0, group ? group->size() : 1);
    std::vector<artifact_ref> mine;
    for (auto i = first; i < last; ++i)
        mine.push_back(hash_file(shards[static_cast<std::size_t>(i)]));
    if (!group) return mine;
    std::vector<artifact_ref> all;
    for (const auto& part : all_gather(*group, bytes_of(artifacts_json(mine).dump()))) {
        const auto refs = artifacts_from_json(json_of(part));
        all.insert(all.end(), refs.begin(), refs.end());
    }
    return all;
}

// Rank 0's outputs on every rank, once rank 0 has written them.
std::vector<artifact_ref> shared_outputs(process_group& group,
                                         const std::vector<artifact_ref>& outputs) {
    const std::string mine = group.rank() == 0 ? artifacts_json(outputs).dump() : "[]";
    return artifacts_from_json(json_of(all_gather(group, bytes_of(mine)).front()));
}

std::uint32_t file_type_of(io::gguf_type t) {
    switch (t) { // llama.cpp's LLAMA_FTYPE_MOSTLY_*
    case io::gguf_type::q4_0: return 2;
    case io::gguf_type::q8_0: return 7;
    default: return 14; // Q4_K_S: Q4_K matrices
    }
}

// The GGUF from the committed pieces, in llama.cpp's tensor order, one tensor in memory at a
// time.
void write_gguf_file(const fs::path& out, const io::gguf_metadata& kv, const fs::path& work,
                     std::int64_t pieces, checkpoint_quantize_result& result) {
    std::vector<io::gguf_tensor_spec> specs;
    std::vector<fs::path> files;
    std::size_t t = 0;
    for (std::int64_t i = 0; i < pieces; ++i)
        for (const auto& r : json::parse(read_file(work / piece_reports(i)))) {
            const auto& report = result.tensors.at(t++);
            specs.push_back(
                {report.name, report.dims, io::gguf_type_from_name(report.type).value()});
            files.push_back(work / piece_folder(i) / r.at("name").get<std::string>());
        }
    io::write_gguf(out, kv, specs, [&](std::size_t index, std::span<std::byte> dst) {
        std::ifstream in(files[index], std::ios::binary);
        in.read(reinterpret_cast<char*>(dst.data()), std::streamsize(dst.size()));
        if (!in || in.peek() != std::char_traits<char>::eof())
            fail(status::io_error,
                 fmt::format("{}: cannot read {} bytes of {} (a damaged work "
                             "folder: delete it to start over)",
                             files[index].string(), dst.size(), specs[index].name));
    });
    result.outputs.push_back(hash_file(out));
}

// The compressed-tensors checkpoint folder: one shard per piece (its tensors' files merged),
// the index, config.json with its quantization_config, and the source folder's other files
// (tokenizer, generation config). Built beside `out` and renamed over it at the end.
void write_checkpoint_folder(const fs::path& source, const fs::path& out, const std::string& config,
                             const fs::path& work, std::int64_t pieces,
                             checkpoint_quantize_result& result) {
    const fs::path building = out.string() + ".building";
    fs::remove_all(building);
    fs::create_directories(building);
    json weight_map = json::object();
    std::vector<std::string> files;
    for (std::int64_t i = 0; i < pieces; ++i) {
        const std::string shard = fmt::format("model-{:05}-of-{:05}.safetensors", i + 1, pieces);
        std::vector<io::safetensors_file> parts;
        std::vector<io::safetensors_entry> entries;
        for (const auto& r : json::parse(read_file(work / piece_reports(i)))) {
            parts.push_back(io::safetensors_file::open(work / piece_folder(i) /
                                                       r.at("name").get<std::string>()));
            for (const auto& name : parts.back().names()) {
                entries.push_back({name, parts.back().view(name)});
                weight_map[name] = shard;
            }
        }
        io::save_safetensors(building / shard, entries);
        files.push_back(shard);
    }
    write_file_atomic(building / "model.safetensors.index.json",
                      json{{"metadata", json::object()}, {"weight_map", weight_map}}.dump(2) +
                          "\n");
    write_file_atomic(building / "config.json", config);
    for (const auto& e : fs::directory_iterator(source)) {
        const std::string name = e.path().filename().string();
        if (!e.is_regular_file() || name == "config.json" || name.ends_with(".safetensors") ||
            name == "model.safetensors.index.json")
            continue;
        fs::copy_file(e.path(), building / name);
        files.push_back(name);
    }
    files.push_back("model.safetensors.index.json");
    files.push_back("config.json");
    if (fs::exists(out)) fs::remove_all(out);
    fs::rename(building, out);
    for (const auto& f : files)
        result.outputs.push_back(hash_file(out / f));
}

} // namespace

std::string checkpoint_quantize_result::to_json() const {
    json shards_json = json::array();
    for (const auto& s : shards)
        shards_json.push_back({{"path", s.path}, {"sha256", s.sha256}, {"bytes", s.bytes}});
    json tensors_json = json::array();
    for (const auto& t : tensors)
        tensors_json.push_back(report_json(t));
    json outputs_json = json::array();
    for (const auto& f : outputs)
        outputs_json.push_back({{"path", f.path}, {"sha256", f.sha256}, {"bytes", f.bytes}});
    return json{{"outputs", outputs_json},
                {"output_bytes", output_bytes},
                {"shards", shards_json},
                {"checkpoint_bytes", checkpoint_bytes},
                {"calibration_sha256", calibration_sha256},
                {"pieces", pieces},
                {"pieces_resumed", pieces_resumed},
                {"tensors", tensors_json}}
        .dump(2);
}

checkpoint_quantize_result quantize_checkpoint(const checkpoint_quantize_options& o) {
    if (o.format == checkpoint_format::gguf && o.type != io::gguf_type::q8_0 &&
        o.type != io::gguf_type::q4_0 && o.type != io::gguf_type::q4_k)
        fail(status::invalid_argument,
             fmt::format("quantize_checkpoint: type {} (hone writes Q8_0, Q4_0, Q4_K)",
                         io::gguf_type_name(o.type)));
    if (o.out.empty()) fail(status::invalid_argument, "quantize_checkpoint: no output path");
    const bool calibrated = present(o.calibration);
    if (calibrated && (o.calibration.type() != dtype::i64 || o.calibration.dims().rank() != 2))
        fail(status::invalid_argument,
             fmt::format("quantize_checkpoint: calibration tokens must be i64 [rows, seq], got "
                         "{} {}",
                         name_of(o.calibration.type()), o.calibration.dims().to_string()));

    const io::checkpoint ckpt = io::checkpoint::open(o.checkpoint);
    const llama_config c =
        llama_config::parse(ckpt.config_text(), (o.checkpoint / "config.json").string());
    // Fail early, before any work: the GGUF's tokenizer metadata, the compressed-tensors config.
    io::gguf_metadata kv;
    std::string config_out;
    const std::vector<std::string> ignore{"lm_head"};
    if (o.format == checkpoint_format::gguf)
        kv = io::gguf_llama_metadata(c,
                                     o.checkpoint.filename().empty()
                                         ? o.checkpoint.parent_path().filename().string()
                                         : o.checkpoint.filename().string(),
                                     file_type_of(o.type));
    else
        config_out = io::with_quantization_config(ckpt.config_text(), o.scheme, ignore,
                                                  (o.checkpoint / "config.json").string());
    const auto encode = [&](const std::string& name, const tensor& w,
                            std::span<const float> importance, bool head) {
        if (o.format == checkpoint_format::compressed_tensors)
            return pack_for_checkpoint(ckpt, name, w, importance, o.scheme);
        // The LM head decides every token: Q8_0 in 4-bit files.
        const io::gguf_type type = head && four_bit(o.type) ? io::gguf_type::q8_0 : o.type;
        return quantize_weight(c, name, w, type, importance);
    };

    process_group* const group = o.group;
    const int rank = group ? group->rank() : 0, ranks = group ? group->size() : 1;
    checkpoint_quantize_result result;
    result.shards = hash_shards(ckpt.shards(), group);
    for (const auto& shard : result.shards)
        result.checkpoint_bytes += shard.bytes;
    if (calibrated)
        result.calibration_sha256 = sha256_hex(std::string_view(
            static_cast<const char*>(o.calibration.data()), o.calibration.nbytes()));
    const std::int64_t pieces = c.num_hidden_layers + 2;
    result.pieces = pieces;
    const fs::path work = o.work_dir.empty() ? fs::path(o.out.string() + ".work") : o.work_dir;
    // Rank 0 makes (or checks) the work folder before the others check it.
    if (rank == 0) open_work_folder(work, work_state(o, result, pieces));
    if (group) all_gather(*group, {});
    if (rank != 0) open_work_folder(work, work_state(o, result, pieces));

    // This rank's pieces resume after their last committed one. With calibration, the hidden
    // states before the first piece to make come from the work folder, or from the rank before:
    // each rank sends what it has after its range to the next (empty when it has none), and a
    // rank waits for that message first only when it needs it (or passes it on: an empty
    // range); otherwise it takes it at the end. Without calibration no messages pass and the
    // ranks work at once.
    const auto [first, last] = rank_range(pieces, rank, ranks);
    std::int64_t next = first;
    while (next < last && fs::exists(work / piece_reports(next)))
        ++next;
    const bool pass_hidden = calibrated && ranks > 1;
    tensor hidden;
    bool received = false;
    if (pass_hidden && rank > 0 && next == first) {
        const std::vector<std::byte> sent = group->receive(rank - 1);
        received = true;
        if (!sent.empty())
            hidden = io::safetensors_file::parse(
                         sent, fmt::format("hidden states from rank {}", rank - 1))
                         .read("hidden");
    }
    if (calibrated && next > first && (next < last || rank + 1 < ranks)) {
        const fs::path h = work / hidden_file(next - 1);
        if (fs::exists(h))
            hidden = io::safetensors_file::open(h).read("hidden");
        else if (next < last)
            fail(status::invalid_argument,
                 fmt::format("work folder {}: piece {} is committed but {} is missing; delete "
                             "the folder to start over",
                             work.string(), next - 1, h.filename().string()));
    }
    if (calibrated && next == first && first > 0 && next < last && !present(hidden))
        fail(status::invalid_argument,
             fmt::format("quantize_checkpoint: rank {} has no hidden states after piece {} "
                         "(work folder {}); delete the folder to start over",
                         rank, first - 1, work.string()));
    auto report = [&](std::int64_t i, bool resumed) {
        if (o.progress && !o.progress(checkpoint_progress{i, pieces, resumed}))
            fail(status::cancelled,
                 fmt::format("quantize_checkpoint: stopped after piece {} of {}; {} resumes", i + 1,
                             pieces, work.string()));
    };
    for (std::int64_t i = first; i < next; ++i)
        report(i, true);
    for (std::int64_t i = next; i < last; ++i) {
        piece_writer out{work / piece_folder(i), encode, {}, {}};
        fs::remove_all(out.folder); // a piece a kill interrupted starts over
        fs::create_directories(out.folder);
        if (i == 0)
            hidden = embedding_piece(ckpt, o, out);
        else if (i == pieces - 1)
            head_piece(ckpt, c, hidden, out);
        else
            hidden = block_piece(ckpt, c, i - 1, o, hidden, out);
        commit_piece(work, i, out, hidden, first);
        report(i, false);
    }
    if (pass_hidden && rank > 0 && !received) (void)group->receive(rank - 1);
    if (pass_hidden && rank + 1 < ranks) {
        std::string bytes;
        if (present(hidden)) {
            const io::safetensors_entry h[] = {{"hidden", hidden.view()}};
            bytes = io::serialize_safetensors(h);
        }
        group->send(rank + 1, std::as_bytes(std::span(bytes)));
    }
    hidden = tensor();

    // Every rank's pieces are committed once every rank gets here.
    const std::int64_t mine = next - first;
    std::int64_t resumed = mine;
    if (group) {
        resumed = 0;
        for (const auto& part : all_gather(*group, std::as_bytes(std::span(&mine, 1)))) {
            std::int64_t r = 0;
            std::memcpy(&r, part.data(), std::min(part.size(), sizeof r));
            resumed += r;
        }
    }
    result.pieces_resumed = resumed;
    for (std::int64_t i = 0; i < pieces; ++i)
        for (const auto& r : json::parse(read_file(work / piece_reports(i))))
            result.tensors.push_back(report_from_json(r));
    if (rank == 0) {
        if (o.format == checkpoint_format::gguf)
            write_gguf_file(o.out, kv, work, pieces, result);
        else
            write_checkpoint_folder(o.checkpoint, o.out, config_out, work, pieces, result);
    }
    // The other ranks learn the outputs (and that they exist) from rank 0; past this point
    // every rank has read the reports, so the work folder can go.
    if (group) result.outputs = shared_outputs(*group, result.outputs);
    if (rank == 0) fs::remove_all(work);
    for (const auto& f : result.outputs)
        result.output_bytes += f.bytes;
    return result;
}

// ---- optimize_checkpoint ---------------------------------------------------------------------

namespace {

loaded_data load_tokens(const std::string& spec, const checkpoint_optimize_options& o,
                        const fs::path& slices, const char* what) {
    data_options d;
    if (o.sequence > 0) d.sample_shape = {o.sequence};
    d.slices_file = slices;
    loaded_data data = load_data(spec, d);
    if (data.data.inputs().type() != dtype::i64 || data.data.inputs().dims().rank() != 2)
        fail(status::dtype_mismatch,
             fmt::format("{} data '{}' holds {} {}, not token ids i64 [sequences, tokens]", what,
                         spec, name_of(data.data.inputs().type()),
                         data.data.inputs().dims().to_string()));
    return data;
}

} // namespace

checkpoint_optimize_outcome optimize_checkpoint(checkpoint_optimize_options& o) {
    if (o.evaluation.empty())
        fail(status::invalid_argument, "optimize_checkpoint: no evaluation data");
    if (o.batch < 1)
        fail(status::invalid_argument,
             fmt::format("optimize_checkpoint: batch {} (must be at least 1)", o.batch));
    // Everything that can be refused is checked before the GGUF is written.
    const std::optional<signing_key> key = pipeline::load_signing_key(o.key);
    const loaded_data eval = load_tokens(o.evaluation, o, o.slices, "evaluation");
    json data_record = {{"evaluation", json::parse(data_json(eval, {}))}};
    if (!o.calibration.empty()) {
        const loaded_data calib = load_tokens(o.calibration, o, {}, "calibration");
        o.quantize.calibration = tensor::copy_of(calib.data.inputs().view());
        data_record["calibration"] = json::parse(data_json(calib, {}));
    }

    checkpoint_optimize_outcome out;
    out.quantized = quantize_checkpoint(o.quantize);

    const io::checkpoint ckpt = io::checkpoint::open(o.quantize.checkpoint);
    const llama_config config = llama_config::parse(ckpt.config_text(), "config.json");
    const llama_weights from_checkpoint = [&](const std::string& n) { return ckpt.read_f32(n); };
    const bool gguf = o.quantize.format == checkpoint_format::gguf;
    const std::string output_name = gguf
                                        ? "GGUF " + std::string(io::gguf_type_name(o.quantize.type))
                                        : "compressed-tensors " + scheme_name(o.quantize.scheme);
    // The output as an engine gets it: hone dequantizes the file's own bytes.
    const llama_weights from_output =
        gguf ? io::gguf_llama_weights(io::gguf_file::open(o.quantize.out), config)
             : io::compressed_tensors_weights(io::checkpoint::open(o.quantize.out));
    function_runner baseline(
        "checkpoint f32",
        [&](const_tensor_view tokens) { return llama_forward(config, from_checkpoint, tokens); },
        out.quantized.checkpoint_bytes);
    function_runner candidate(
        output_name + " (hone runs its weights)",
        [&](const_tensor_view tokens) { return llama_forward(config, from_output, tokens); },
        out.quantized.output_bytes);
    validator_options v;
    v.batch_size = o.batch;
    v.latency_batch_sizes = {};
    v.per_class_slices = false;
    v.group = o.quantize.group;
    out.validation = validate(baseline, candidate, evaluation_of(eval), v);
    out.decision = decide(o.policy, out.validation.comparison);

    // One record and report, from rank 0.
    if (o.quantize.group && o.quantize.group->rank() != 0) return out;
    pipeline::conclusion c;
    c.model = o.quantize.checkpoint.string();
    json tensor_types = json::object();
    for (const auto& t : out.quantized.tensors)
        tensor_types[t.name] = t.type;
    json recipe = {{"format", gguf ? "gguf" : "compressed-tensors"},
                   {"importance", present(o.quantize.calibration)},
                   {"sequential", o.quantize.sequential},
                   {"tensor_types", tensor_types}};
    if (gguf) {
        recipe["type"] = std::string(io::gguf_type_name(o.quantize.type));
        c.recipe_name = "gguf-" + recipe["type"].get<std::string>();
    } else {
        recipe["scheme"] = {{"bits", o.quantize.scheme.bits},
                            {"group_size", o.quantize.scheme.group_size},
                            {"symmetric", o.quantize.scheme.symmetric}};
        c.recipe_name = "compressed-tensors-" + scheme_name(o.quantize.scheme);
    }
    c.recipe = recipe.dump();
    c.validation = out.validation;
    c.policy = o.policy;
    c.decision = out.decision;
    // Hashed once already, by quantize_checkpoint: the outputs, then every shard.
    c.hashed_artifacts = out.quantized.outputs;
    c.hashed_artifacts.insert(c.hashed_artifacts.end(), out.quantized.shards.begin(),
                              out.quantized.shards.end());
    c.ledger = o.ledger;
    c.actor = o.actor;
    c.key = key ? &*key : nullptr;
    c.data = data_record.dump();
    c.report_dir = o.report_dir;
    out.record = pipeline::conclude_record(c).record;
    return out;
}

} // namespace hone
