// A LLaMA checkpoint folder → GGUF, piece by piece, resumable (hone/pipeline/
// checkpoint_quantize.hpp).
#include "hone/pipeline/checkpoint_quantize.hpp"

#include "flow.hpp"
#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/io/checkpoint.hpp"
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
    std::string bytes;  // as stored in the GGUF
    tensor dequantized; // the checkpoint's layout: what llama.cpp computes with
};

// The requested type, or the first fallback whose block divides the row (llama.cpp's habit).
io::gguf_type pick_type(io::gguf_type wanted, std::int64_t cols) {
    std::vector<io::gguf_type> chain{wanted};
    if (wanted == io::gguf_type::q4_k) chain.push_back(io::gguf_type::q4_0);
    if (wanted != io::gguf_type::q8_0) chain.push_back(io::gguf_type::q8_0);
    for (const io::gguf_type t : chain)
        if (cols % std::int64_t(io::gguf_block_size(t)) == 0) return t;
    return io::gguf_type::f16;
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
        q.report.type = io::gguf_type::f32;
        q.bytes.assign(static_cast<const char*>(w.data()), w.nbytes());
        q.report.bytes = q.bytes.size();
        q.dequantized = tensor::copy_of(w.view());
        return q;
    }
    const std::int64_t rows = w.dims()[0], cols = w.dims()[1];
    const std::int64_t heads = io::gguf_llama_permuted_heads(config, source);
    const tensor stored =
        heads ? io::gguf_llama_permute_rows(w.view(), heads, false) : tensor::copy_of(w.view());
    q.report.type = pick_type(wanted, cols);
    q.bytes.assign(io::gguf_tensor_bytes(q.report.type, q.report.dims), '\0');
    q.report.bytes = q.bytes.size();
    const std::span<std::byte> dst(reinterpret_cast<std::byte*>(q.bytes.data()), q.bytes.size());
    tensor back(dtype::f32, w.dims());
    if (q.report.type == io::gguf_type::f16) {
        tensor half_bits(dtype::f16, w.dims());
        kernels::convert(stored, half_bits.view());
        std::memcpy(dst.data(), half_bits.data(), dst.size());
        kernels::convert(half_bits.view(), back.view());
    } else {
        const auto block = kernels::gguf_block_type(q.report.type);
        kernels::quantize_gguf_rows(block, stored, importance, dst);
        kernels::dequantize_gguf_rows(block, dst, back.view());
    }
    q.dequantized = heads ? io::gguf_llama_permute_rows(back.view(), heads, true) : std::move(back);
    // Error in the checkpoint's layout (the row order does not change the sums).
    const auto a = w.span<float>();
    const auto b = std::as_const(q.dequantized).span<float>();
    double err = 0, norm = 0, werr = 0, wnorm = 0;
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t k = 0; k < cols; ++k) {
            const std::size_t i = std::size_t(r * cols + k);
            const double d = double(a[i]) - double(b[i]), x2 = double(a[i]) * double(a[i]);
            const double imp = importance.empty() ? 1.0 : double(importance[std::size_t(k)]);
            err += d * d;
            norm += x2;
            werr += imp * d * d;
            wnorm += imp * x2;
        }
    q.report.relative_rmse = norm > 0 ? std::sqrt(err / norm) : 0.0;
    q.report.weighted_relative_rmse = wnorm > 0 ? std::sqrt(werr / wnorm) : 0.0;
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

// Where a piece's tensors go as they are made: each one's GGUF bytes to its own file in the
// piece's folder (atomic), so a piece never holds more than one quantized tensor in memory.
// The piece is committed later by its reports file (commit_piece).
struct piece_writer {
    fs::path folder;
    std::vector<checkpoint_tensor_report> reports;                        // in file order
    std::map<std::string, checkpoint_tensor_report, std::less<>> pending; // made, not yet placed

    void store(quantized_weight&& q, bool in_order = true) {
        write_file_atomic(folder / q.report.name, q.bytes);
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
tensor embedding_piece(const io::checkpoint& ckpt, const llama_config& c,
                       const checkpoint_quantize_options& o, piece_writer& out) {
    const tensor w = ckpt.read_f32("model.embed_tokens.weight");
    quantized_weight q = quantize_weight(c, "model.embed_tokens.weight", w, o.type, {});
    tensor hidden;
    if (present(o.calibration))
        hidden = llama_embed(o.sequential ? q.dequantized.view() : w.view(), o.calibration.view());
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
            quantized_weight q = quantize_weight(c, name, w, o.type, column_mean_squares(input));
            tensor run = o.sequential ? std::move(q.dequantized) : std::move(w);
            w = tensor();
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
        if (!out.has(name)) out.store(quantize_weight(c, name, read(name), o.type, {}), false);
    for (const auto& name : order)
        out.place(name);
    return hidden;
}

void head_piece(const io::checkpoint& ckpt, const llama_config& c,
                const checkpoint_quantize_options& o, const tensor& hidden_in, piece_writer& out) {
    const llama_weights read = [&](const std::string& name) { return ckpt.read_f32(name); };
    out.store(quantize_weight(c, "model.norm.weight", read("model.norm.weight"), o.type, {}));
    if (c.tie_word_embeddings) return;
    std::vector<float> imp;
    if (present(hidden_in))
        imp = column_mean_squares(llama_final_norm(c, read, hidden_in.view()).view());
    const io::gguf_type head_type = four_bit(o.type) ? io::gguf_type::q8_0 : o.type;
    out.store(quantize_weight(c, "lm_head.weight", read("lm_head.weight"), head_type, imp));
}

// ---- the work folder --------------------------------------------------------------------------

json report_json(const checkpoint_tensor_report& r) {
    return {{"name", r.name},
            {"source", r.source},
            {"type", std::string(io::gguf_type_name(r.type))},
            {"dims", r.dims},
            {"bytes", r.bytes},
            {"relative_rmse", r.relative_rmse},
            {"weighted_relative_rmse", r.weighted_relative_rmse}};
}

checkpoint_tensor_report report_from_json(const json& j) {
    checkpoint_tensor_report r;
    r.name = j.at("name").get<std::string>();
    r.source = j.at("source").get<std::string>();
    r.type = io::gguf_type_from_name(j.at("type").get<std::string>()).value();
    r.dims = j.at("dims").get<std::vector<std::uint64_t>>();
    r.bytes = j.at("bytes").get<std::uint64_t>();
    r.relative_rmse = j.at("relative_rmse").get<double>();
    r.weighted_relative_rmse = j.at("weighted_relative_rmse").get<double>();
    return r;
}

// Commits piece i: the hidden states after it first, then its reports (the commit mark); the
// hidden states of the piece before are then no longer needed.
void commit_piece(const fs::path& work, std::int64_t i, const piece_writer& p,
                  const tensor& hidden) {
    if (present(hidden)) {
        const io::safetensors_entry h[] = {{"hidden", hidden.view()}};
        io::save_safetensors(work / hidden_file(i), h);
    }
    json reports = json::array();
    for (const auto& r : p.reports)
        reports.push_back(report_json(r));
    write_file_atomic(work / piece_reports(i), reports.dump(1) + "\n");
    if (i > 0) fs::remove(work / hidden_file(i - 1));
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
            {"type", std::string(io::gguf_type_name(o.type))},
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

std::uint32_t file_type_of(io::gguf_type t) {
    switch (t) { // llama.cpp's LLAMA_FTYPE_MOSTLY_*
    case io::gguf_type::q4_0: return 2;
    case io::gguf_type::q8_0: return 7;
    default: return 14; // Q4_K_S: Q4_K matrices
    }
}

} // namespace

std::string checkpoint_quantize_result::to_json() const {
    json shards_json = json::array();
    for (const auto& s : shards)
        shards_json.push_back({{"path", s.path}, {"sha256", s.sha256}, {"bytes", s.bytes}});
    json tensors_json = json::array();
    for (const auto& t : tensors)
        tensors_json.push_back(report_json(t));
    return json{{"gguf", {{"path", gguf.path}, {"sha256", gguf.sha256}, {"bytes", gguf.bytes}}},
                {"shards", shards_json},
                {"checkpoint_bytes", checkpoint_bytes},
                {"calibration_sha256", calibration_sha256},
                {"pieces", pieces},
                {"pieces_resumed", pieces_resumed},
                {"tensors", tensors_json}}
        .dump(2);
}

checkpoint_quantize_result quantize_checkpoint(const checkpoint_quantize_options& o) {
    if (o.type != io::gguf_type::q8_0 && o.type != io::gguf_type::q4_0 &&
        o.type != io::gguf_type::q4_k)
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
    // Fail early, before any work: the tokenizer metadata must be writable.
    const io::gguf_metadata kv = io::gguf_llama_metadata(
        c,
        o.checkpoint.filename().empty() ? o.checkpoint.parent_path().filename().string()
                                        : o.checkpoint.filename().string(),
        file_type_of(o.type));

    checkpoint_quantize_result result;
    for (const auto& shard : ckpt.shards()) {
        result.shards.push_back(hash_file(shard));
        result.checkpoint_bytes += result.shards.back().bytes;
    }
    if (calibrated)
        result.calibration_sha256 = sha256_hex(std::string_view(
            static_cast<const char*>(o.calibration.data()), o.calibration.nbytes()));
    const std::int64_t pieces = c.num_hidden_layers + 2;
    result.pieces = pieces;
    const fs::path work = o.work_dir.empty() ? fs::path(o.out.string() + ".work") : o.work_dir;
    open_work_folder(work, work_state(o, result, pieces));

    // Resume after the last committed piece.
    std::int64_t next = 0;
    while (next < pieces && fs::exists(work / piece_reports(next)))
        ++next;
    tensor hidden;
    if (calibrated && next > 0 && next < pieces) {
        const fs::path h = work / hidden_file(next - 1);
        if (!fs::exists(h))
            fail(status::invalid_argument,
                 fmt::format("work folder {}: piece {} is committed but {} is missing; delete "
                             "the folder to start over",
                             work.string(), next - 1, h.filename().string()));
        hidden = io::safetensors_file::open(h).read("hidden");
    }
    result.pieces_resumed = next;
    auto report = [&](std::int64_t i, bool resumed) {
        if (o.progress && !o.progress(checkpoint_progress{i, pieces, resumed}))
            fail(status::cancelled,
                 fmt::format("quantize_checkpoint: stopped after piece {} of {}; {} resumes", i + 1,
                             pieces, work.string()));
    };
    for (std::int64_t i = 0; i < next; ++i)
        report(i, true);
    for (std::int64_t i = next; i < pieces; ++i) {
        piece_writer out{work / piece_folder(i), {}, {}};
        fs::remove_all(out.folder); // a piece a kill interrupted starts over
        fs::create_directories(out.folder);
        if (i == 0)
            hidden = embedding_piece(ckpt, c, o, out);
        else if (i == pieces - 1)
            head_piece(ckpt, c, o, hidden, out);
        else
            hidden = block_piece(ckpt, c, i - 1, o, hidden, out);
        commit_piece(work, i, out, hidden);
        report(i, false);
    }

    // Assemble the GGUF from the committed pieces, in llama.cpp's tensor order, one tensor in
    // memory at a time.
    std::vector<io::gguf_tensor_spec> specs;
    std::vector<fs::path> files;
    for (std::int64_t i = 0; i < pieces; ++i) {
        const json reports = json::parse(read_file(work / piece_reports(i)));
        for (const auto& r : reports) {
            result.tensors.push_back(report_from_json(r));
            const auto& t = result.tensors.back();
            specs.push_back({t.name, t.dims, t.type});
            files.push_back(work / piece_folder(i) / t.name);
        }
    }
    io::write_gguf(o.out, kv, specs, [&](std::size_t index, std::span<std::byte> dst) {
        std::ifstream in(files[index], std::ios::binary);
        in.read(reinterpret_cast<char*>(dst.data()), std::streamsize(dst.size()));
        if (!in || in.peek() != std::char_traits<char>::eof())
            fail(status::io_error,
                 fmt::format("{}: cannot read {} bytes of {} (a damaged work "
                             "folder: delete it to start over)",
                             files[index].string(), dst.size(), specs[index].name));
    });
    result.gguf = hash_file(o.out);
    fs::remove_all(work);
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
    const io::gguf_file file = io::gguf_file::open(o.quantize.out);
    const llama_weights from_checkpoint = [&](const std::string& n) { return ckpt.read_f32(n); };
    const llama_weights from_gguf = io::gguf_llama_weights(file, config);
    const std::string type_name(io::gguf_type_name(o.quantize.type));
    function_runner baseline(
        "checkpoint f32",
        [&](const_tensor_view tokens) { return llama_forward(config, from_checkpoint, tokens); },
        out.quantized.checkpoint_bytes);
    function_runner candidate(
        "GGUF " + type_name + " (hone runs its weights)",
        [&](const_tensor_view tokens) { return llama_forward(config, from_gguf, tokens); },
        out.quantized.gguf.bytes);
    validator_options v;
    v.batch_size = o.batch;
    v.latency_batch_sizes = {};
    v.per_class_slices = false;
    out.validation = validate(baseline, candidate, evaluation_of(eval), v);
    out.decision = decide(o.policy, out.validation.comparison);

    pipeline::conclusion c;
    c.model = o.quantize.checkpoint.string();
    c.recipe_name = "gguf-" + type_name;
    json tensor_types = json::object();
    for (const auto& t : out.quantized.tensors)
        tensor_types[t.name] = std::string(io::gguf_type_name(t.type));
    c.recipe = json{{"format", "gguf"},
                    {"type", type_name},
                    {"importance", present(o.quantize.calibration)},
                    {"sequential", o.quantize.sequential},
                    {"tensor_types", tensor_types}}
                   .dump();
    c.validation = out.validation;
    c.policy = o.policy;
    c.decision = out.decision;
    c.artifacts.push_back(o.quantize.out);
    for (const auto& shard : ckpt.shards())
        c.artifacts.push_back(shard);
    c.ledger = o.ledger;
    c.actor = o.actor;
    c.key = key ? &*key : nullptr;
    c.data = data_record.dump();
    c.report_dir = o.report_dir;
    out.record = pipeline::conclude_record(c).record;
    return out;
}

} // namespace hone
