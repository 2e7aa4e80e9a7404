// flow.cpp — optimize, validate, sweep: the main job of DESIGN.md wired from the model, graph,
// quantize, prune, cluster, validate, policy and ledger layers (hone/pipeline/optimize.hpp).
#include "flow.hpp"

#include "budget.hpp"
#include "deploy.hpp"
#include "layers.hpp"
#include "search.hpp"
#include "smoothing.hpp"
#include "stage.hpp"
#include <hone/pipeline/recipe.hpp>

#include <hone/cluster/clusterer.hpp>
#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/graph/executor.hpp>
#include <hone/graph/trainer.hpp>
#include <hone/io/digest.hpp>
#include <hone/io/onnx.hpp>
#include <hone/io/safetensors.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/metrics/layer_error.hpp>
#include <hone/model/model.hpp>
#include <hone/model/transforms.hpp>
#include <hone/prune/pruner.hpp>
#include <hone/prune/sparse_storage.hpp>
#include <hone/quantize/calibrator.hpp>
#include <hone/quantize/quantizer.hpp>
#include <hone/validate/language_model.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <unistd.h>

namespace hone::pipeline {

namespace fs = std::filesystem;
using json = nlohmann::json;

model load_model(const fs::path& path) {
    model m = load_onnx(path);
    (void)fold_weight_casts(m);
    return m;
}

bool takes_tokens(const model& m) { return m.inputs.size() == 1 && m.inputs[0].type == dtype::i64; }

void check_data_kind(const model& m, const loaded_data& d) {
    const bool tokens = d.data.inputs().type() == dtype::i64;
    if (takes_tokens(m) && !tokens)
        fail(status::dtype_mismatch,
             fmt::format("data '{}' holds {} samples, but model '{}' takes token ids (input '{}' "
                         "is {}): give an NPY of integer token ids [sequences, tokens]",
                         d.spec, name_of(d.data.inputs().type()), m.source, m.inputs[0].name,
                         name_of(m.inputs[0].type)));
    if (!takes_tokens(m) && tokens)
        fail(status::dtype_mismatch,
             fmt::format("data '{}' holds token ids (i64), but model '{}' takes {} (input '{}')",
                         d.spec, m.source, name_of(m.inputs.at(0).type), m.inputs.at(0).name));
}

std::vector<std::int64_t> model_sample_shape(const model& m) {
    if (m.inputs.size() != 1)
        fail(status::unsupported, fmt::format("model '{}': hone optimizes models with one input, "
                                              "this one has {}",
                                              m.source, m.inputs.size()));
    std::vector<std::int64_t> s;
    const auto& dims = m.inputs[0].dims;
    for (std::size_t i = 1; i < dims.size(); ++i)
        s.push_back(dims[i].is_static() ? dims[i].size : -1);
    return s;
}

namespace {

// ---- observation -------------------------------------------------------------------------

/// Runs `m` over `inputs` (first `max_rows` samples) and returns the named values as
/// [rows, last dim] f32 matrices (graph inputs included).
std::map<std::string, tensor> observe(const model& m, executor_options options,
                                      const_tensor_view inputs, const std::set<std::string>& names,
                                      std::int64_t max_rows, const std::string& label,
                                      const pipeline_events& c) {
    for (const auto& n : names)
        options.keep.push_back(n);
    executor exec(m, options);
    const std::int64_t total = std::min<std::int64_t>(inputs.dims()[0], max_rows);
    std::map<std::string, std::vector<float>> acc;
    std::map<std::string, std::int64_t> width;
    const auto add = [&](const std::string& name, const_tensor_view v) {
        const auto t = tensor::copy_of(v);
        const auto d = t.dims();
        const std::int64_t k = d.rank() ? d[d.rank() - 1] : 1;
        width[name] = k;
        auto& a = acc[name];
        const auto s = t.span<float>();
        a.insert(a.end(), s.begin(), s.end());
    };
    stage bar(c, label, std::uint64_t(total));
    const std::string input_name = m.inputs.at(0).name;
    for (std::int64_t b = 0; b < total; b += 256) {
        const auto e = std::min(total, b + 256);
        const auto batch = inputs.slice(0, b, e);
        if (names.count(input_name)) {
            // The graph input as the model sees it: [rows, ..., K].
            add(input_name, batch);
        }
        exec.run(batch, [&](const std::string& name, const_tensor_view v) {
            if (names.count(name) && v.type() == dtype::f32) add(name, v);
        });
        bar.update(std::uint64_t(e), std::uint64_t(total));
    }
    bar.finish();
    std::map<std::string, tensor> out;
    for (auto& [name, values] : acc) {
        const auto k = width[name];
        tensor t(dtype::f32, shape{std::int64_t(values.size()) / k, k});
        std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
        out.emplace(name, std::move(t));
    }
    return out;
}

/// The recipe's steps for each of `layers` (nullopt: not selected), "@first" / "@last" being the
/// first / last of them whose op type the recipe selects.
std::vector<std::optional<std::vector<recipe_step>>>
selected_steps(const recipe& rec, const std::vector<layer_ref>& layers) {
    std::string first, last;
    for (const auto& l : layers)
        if (std::find(rec.op_types.begin(), rec.op_types.end(), l.op) != rec.op_types.end()) {
            if (first.empty()) first = l.name;
            last = l.name;
        }
    std::vector<std::optional<std::vector<recipe_step>>> out;
    for (const auto& l : layers)
        out.push_back(rec.steps_for(l.name, l.op, first, last));
    return out;
}

// ---- the recipe applied to one layer -----------------------------------------------------

/// What one layer became: its weights as they run ([N, K]) and as they are stored.
struct layer_result {
    layer_ref ref;
    tensor weights; ///< [N, K] f32, as the candidate runs them
    std::string scheme;
    std::uint64_t bytes_before = 0, bytes_after = 0;
    // packed storage (the last representation that applies)
    // shared: the executor's packed paths run on the same objects
    std::shared_ptr<const quantized_tensor> quantized;
    std::shared_ptr<const palettized_tensor> palettized;
    std::optional<sparse_tensor> sparse; ///< pruned layers (alone, or the mask under clusters)
    bool palettized_nonzeros = false;    ///< palettized holds only the mask's non-zeros
};

layer_result apply_steps(const layer_ref& ref, tensor w, const std::vector<recipe_step>& steps,
                         const tensor* x) {
    layer_result r;
    r.ref = ref;
    r.bytes_before = std::uint64_t(w.nbytes());
    const auto need_x = [&](const char* what) {
        if (!x)
            fail(status::invalid_argument,
                 fmt::format("layer '{}': {} needs calibration inputs", ref.name, what));
    };
    std::vector<std::string> scheme;
    bool pruned = false;
    int prune_n = 0, prune_m = 0;
    for (const auto& s : steps) {
        switch (s.what) {
        case recipe_step::kind::prune: {
            pruner_config cfg;
            cfg.method = s.pruning;
            cfg.sparsity = s.sparsity;
            cfg.n = s.n;
            cfg.m = s.m;
            std::optional<layer_statistics> stats;
            std::string method(name_of(s.pruning));
            if (cfg.method != prune_method::magnitude && ref.is_conv()) {
                // Conv inputs are not collected as [rows, K] patches: no Hessian, no norms.
                cfg.method = prune_method::magnitude;
                method = fmt::format("magnitude ({} needs Gemm/MatMul inputs)", name_of(s.pruning));
            }
            if (cfg.method != prune_method::magnitude) {
                need_x(std::string(name_of(s.pruning)).c_str());
                stats.emplace(ref.k, cfg.method == prune_method::sparsegpt);
                stats->add(x->view());
            }
            pruner p(cfg);
            p.prune(w.view(), stats ? &*stats : nullptr, {}, ref.name);
            pruned = true;
            prune_n = s.n;
            prune_m = s.m;
            r.quantized.reset();
            r.palettized.reset();
            scheme.push_back(s.n > 0 ? fmt::format("{}:{} {}", s.n, s.m, method)
                                     : fmt::format("{:g}% {}", 100 * s.sparsity, method));
            break;
        }
        case recipe_step::kind::cluster: {
            clusterer_config cfg;
            cfg.clusters = s.clusters;
            cfg.method = s.clustering;
            clusterer cl(cfg);
            r.quantized.reset();
            if (pruned) {
                // Cluster the kept weights only; the mask says where they are.
                auto span = w.span<float>();
                std::vector<float> nz;
                for (const float v : span)
                    if (v != 0.0f) nz.push_back(v);
                if (nz.empty())
                    fail(status::invalid_argument,
                         fmt::format("layer '{}': nothing left to cluster", ref.name));
                const auto nzv = make_view(nz.data(), nz.size() * sizeof(float), dtype::f32,
                                           shape{std::int64_t(nz.size())});
                r.palettized =
                    std::make_shared<const palettized_tensor>(cl.cluster(nzv, {}, ref.name));
                const auto deq = r.palettized->dequantize();
                const auto d = deq.span<float>();
                std::size_t j = 0;
                for (auto& v : span)
                    if (v != 0.0f) v = d[j++];
                r.palettized_nonzeros = true;
            } else {
                r.palettized =
                    std::make_shared<const palettized_tensor>(cl.cluster(w.view(), {}, ref.name));
                w = r.palettized->dequantize();
            }
            scheme.push_back(fmt::format("k-means {}", s.clusters));
            break;
        }
        case recipe_step::kind::quantize: {
            quantizer_config cfg;
            cfg.spec.bits = s.bits;
            std::string granularity(name_of(s.granularity)), method(name_of(s.quantizing));
            cfg.spec.granularity = s.granularity;
            if (s.granularity == quant_granularity::per_group && ref.is_conv()) {
                // A stored Conv weight cannot hold groups along K (layers.hpp), and a whole
                // output channel of a small kernel on one 4-bit grid costs accuracy (1.6 points
                // on the CNN fixture): Conv layers of a per-group recipe get 8 bits per channel.
                cfg.spec.granularity = quant_granularity::per_channel;
                cfg.spec.bits = std::max(s.bits, 8);
                granularity = "per_channel (per_group needs Gemm/MatMul)";
            } else if (s.granularity == quant_granularity::per_group) {
                cfg.spec.group_size = group_for(s.group_size, ref.k);
            }
            cfg.method = s.quantizing;
            if (cfg.method == weight_method::awq) {
                // The scales were searched per group and folded before the steps
                // (smoothing.hpp; the recipe's awq_result says which groups took them).
                cfg.method = weight_method::rtn;
                method = "awq (scales folded), rtn";
            }
            cfg.gptq.act_order = s.act_order;
            if (s.act_order) method += " act-order";
            if (cfg.method == weight_method::gptq && ref.is_conv()) {
                // Conv inputs are not collected as [rows, K] patches: no Hessian.
                cfg.method = weight_method::rtn;
                method = "rtn (gptq needs Gemm/MatMul inputs)";
            }
            std::optional<layer_statistics> stats;
            weight_calibration cal;
            if (cfg.method == weight_method::gptq) {
                need_x("GPTQ");
                stats.emplace(ref.k, true);
                stats->add(x->view());
                cal.hessian = stats->hessian().view();
            }
            quantizer q(cfg);
            auto res = q.run(w.view(), cal, ref.name);
            w = res.weights.dequantize();
            r.quantized = std::make_shared<const quantized_tensor>(std::move(res.weights));
            r.palettized.reset();
            pruned = false; // stored dense (the quantized grid keeps zeros, not the mask)
            scheme.push_back(fmt::format("int{} {}{} {}", cfg.spec.bits, granularity,
                                         cfg.spec.granularity == quant_granularity::per_group
                                             ? fmt::format(" g{}", cfg.spec.group_size)
                                             : std::string(),
                                         method));
            break;
        }
        }
    }
    if (pruned)
        r.sparse = sparse_tensor::encode(
            w.view(), prune_n > 0 ? sparse_format::n_m : sparse_format::bitmask,
            prune_n > 0 ? prune_n : 2, prune_n > 0 ? prune_m : 4, ref.name);
    if (r.quantized)
        r.bytes_after = r.quantized->bytes();
    else if (r.palettized)
        r.bytes_after =
            r.palettized->bytes() + (r.palettized_nonzeros ? r.sparse->index_bytes().size() : 0);
    else if (r.sparse)
        r.bytes_after = r.sparse->bytes();
    else
        r.bytes_after = r.bytes_before;
    for (std::size_t i = 0; i < scheme.size(); ++i)
        r.scheme += (i ? " + " : "") + scheme[i];
    if (scheme.empty()) r.scheme = "weights as they are"; // no step applies to this op type
    r.weights = std::move(w);
    return r;
}

// ---- runners -----------------------------------------------------------------------------

/// graph_runner with the packed size the artifact stores (hone's bytes(), not the plan's).
class sized_runner final : public runner {
public:
    sized_runner(const model& m, const executor_options& o, std::string name, std::uint64_t bytes)
        : inner_(m, o, name), name_(std::move(name)), bytes_(bytes) {}
    std::string name() const override { return name_; }
    tensor run(const_tensor_view inputs) override { return inner_.run(inputs); }
    std::uint64_t model_bytes() const override { return bytes_; }
    work work_per_sample() const override { return inner_.work_per_sample(); }
    const executor& plan() const { return inner_.plan(); }

private:
    graph_runner inner_;
    std::string name_;
    std::uint64_t bytes_;
};

/// The top-1 class of each row of logits [rows, ..., classes].
std::vector<std::int64_t> argmax_rows(const tensor& logits) {
    const auto classes = logits.dims()[logits.dims().rank() - 1];
    const auto s = logits.span<const float>();
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; classes > 0 && i < s.size(); i += std::size_t(classes))
        out.push_back(std::max_element(s.data() + i, s.data() + i + classes) - (s.data() + i));
    return out;
}

/// How many of `predicted` equal labels[first + i].
std::int64_t count_correct(const std::vector<std::int64_t>& predicted,
                           std::span<const std::int64_t> labels, std::int64_t first) {
    std::int64_t correct = 0;
    for (std::size_t i = 0; i < predicted.size(); ++i)
        correct += predicted[i] == labels[std::size_t(first) + i];
    return correct;
}

double top1(runner& r, const loaded_data& d, const std::string& label, const pipeline_events& c) {
    const auto ev = evaluation_of(d);
    if (ev.labels.empty()) return std::nan("");
    const auto n = ev.inputs.dims()[0];
    std::int64_t correct = 0;
    stage bar(c, label, std::uint64_t(n));
    for (std::int64_t b = 0; b < n; b += 256) {
        const auto e = std::min(n, b + 256);
        correct += count_correct(argmax_rows(r.run(ev.inputs.slice(0, b, e))), ev.labels, b);
        bar.update(std::uint64_t(e), std::uint64_t(n));
    }
    bar.finish();
    return double(correct) / double(n);
}

/// A language model's baseline figures on the evaluation sequences.
struct next_token_figures {
    double perplexity = 0, accuracy = 0;
    std::int64_t tokens = 0;
};

next_token_figures next_token_baseline(runner& r, const loaded_data& d, const std::string& label,
                                       const pipeline_events& c) {
    const auto ev = evaluation_of(d);
    const auto n = ev.inputs.dims()[0];
    double nll = 0;
    std::int64_t correct = 0, tokens = 0;
    stage bar(c, label, std::uint64_t(n));
    for (std::int64_t b = 0; b < n; b += 256) {
        const auto e = std::min(n, b + 256);
        const auto batch = ev.inputs.slice(0, b, e);
        const tensor logits = r.run(batch);
        const tensor targets = next_token_targets(batch);
        for (const auto& s : lm_sequence_statistics(logits.view(), logits.view(), targets.view())) {
            nll += s.baseline_nll;
            correct += s.baseline_correct;
            tokens += s.tokens;
        }
        bar.update(std::uint64_t(e), std::uint64_t(n));
    }
    bar.finish();
    if (tokens == 0)
        fail(status::invalid_argument,
             fmt::format("evaluation data '{}': no position has a next token (sequences of one "
                         "token?)",
                         d.spec));
    return {std::exp(nll / double(tokens)), double(correct) / double(tokens), tokens};
}

// ---- output paths ------------------------------------------------------------------------

} // namespace

/// Fails (io_error naming the path) unless `p` can be created: its nearest existing ancestor
/// is a writable directory and no existing non-directory is in the way.
void check_writable_dir(const fs::path& p, const char* what) {
    std::error_code ec;
    fs::path a = fs::absolute(p, ec);
    while (!a.empty() && !fs::exists(a, ec))
        a = a.parent_path();
    bool ok = !a.empty() && fs::is_directory(a, ec) && ::access(a.c_str(), W_OK) == 0;
    if (ok) {
        // Permissions are not the whole story (root, read-only mounts, /proc): try it.
        const auto probe = a / fmt::format(".hone-probe-{}", ::getpid());
        std::FILE* f = std::fopen(probe.c_str(), "wb");
        ok = f != nullptr;
        if (f) std::fclose(f);
        fs::remove(probe, ec);
    }
    if (!ok)
        fail(status::io_error,
             fmt::format("{} '{}': cannot be written ({} is not a writable folder)", what,
                         p.string(), a.string()));
}

namespace {

struct artifact_paths {
    fs::path onnx, safetensors;
};

/// --out OUT: OUT.onnx → that file and OUT.safetensors next to it; otherwise a folder holding
/// model.onnx and weights.safetensors.
artifact_paths artifact_paths_for(const fs::path& out) {
    if (out.extension() == ".onnx") {
        check_writable_dir(out.parent_path().empty() ? fs::path(".") : out.parent_path(), "--out");
        auto s = out;
        s.replace_extension(".safetensors");
        return {out, s};
    }
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_directory(out, ec))
        fail(status::io_error,
             fmt::format("--out '{}': exists and is not a folder (give a folder or a .onnx file)",
                         out.string()));
    check_writable_dir(out, "--out");
    return {out / "model.onnx", out / "weights.safetensors"};
}

// ---- the candidate -----------------------------------------------------------------------

struct candidate_build {
    recipe rec;
    model m;
    executor_options exec;
    std::vector<layer_result> layers;
    std::uint64_t model_bytes = 0;
    json finetune = nullptr;      ///< what the finetune step did (ledger, report)
    json packed = json::object(); ///< weight-only packed path per layer (or why not)
    /// int8 static: calibrated activation ranges of the tensors the deployable file quantizes.
    std::map<std::string, tensor_range, std::less<>> grids;
    json smoothing = nullptr; ///< what SmoothQuant did per group (smoothing.hpp)
    json awq = nullptr;       ///< what AWQ did per group
    /// Language models: the f32 model the steps started from (scales folded), for each layer's
    /// KL alone (layer_errors).
    model reference;
    json kv_cache = nullptr; ///< the int8 KV cache's tensors and ranges
};

/// What the deployable file is made from.
deploy_input deploy_input_of(const candidate_build& cb) {
    deploy_input in;
    in.candidate = &cb.m;
    in.recipe_json = cb.rec.to_json().dump();
    in.execution = cb.rec.execution;
    in.grids = cb.grids;
    in.f32_nodes = cb.exec.f32_nodes;
    for (const auto& l : cb.layers)
        in.layers.push_back({l.ref, l.quantized, l.palettized != nullptr});
    return in;
}

// ---- the finetune step -------------------------------------------------------------------

tensor stored_layout(const layer_ref& l, const tensor& nk) { return to_stored(l, nk.view()); }

/// Fraction of exact zeros of a weight.
double zero_fraction(const tensor& w) {
    const auto v = w.span<float>();
    return double(std::count(v.begin(), v.end(), 0.0f)) /
           double(std::max<std::size_t>(v.size(), 1));
}

/// Refuses a layer the gradual schedule cannot take as the recipe's prune step left it: N:M
/// (magnitude pruning would break the pattern), or more zeros than the schedule's first target
/// (they would be released to train: the schedule's masks only grow from the one-shot mask).
void check_gradual(const layer_result& l, const finetune_params& ft, const std::string& where) {
    if (!l.sparse) return;
    if (l.sparse->format() == sparse_format::n_m)
        fail(status::invalid_argument,
             fmt::format("{}.prune: layer '{}' is pruned {}:{} by the recipe, and the schedule "
                         "prunes unstructured",
                         where, l.ref.name, l.sparse->n(), l.sparse->m()));
    const bool poly = ft.prune->kind == schedule_kind::polynomial;
    const double first = poly ? ft.prune->initial_sparsity : ft.prune->final_sparsity;
    const double n = double(l.weights.numel()), have = zero_fraction(l.weights);
    if (std::llround(have * n) > std::llround(first * n))
        fail(status::invalid_argument,
             fmt::format("{}.prune.{} {} is below the sparsity {:.4f} of layer '{}' after the "
                         "recipe's prune step: the schedule starts from that mask and only adds "
                         "to it",
                         where, poly ? "initial_sparsity" : "final_sparsity", first, have,
                         l.ref.name));
}

/// Fine-tunes the whole candidate after the one-shot steps: masks stay (prune), weights stay on
/// their codebooks (cluster) or quantization grids (quantize, RTN fake quantization of the
/// layer's spec), distillation from the baseline by default. Then every changed layer's packed
/// form is rebuilt from the trained weights.
void run_finetune(candidate_build& cb, const model& base, const finetune_params& ft,
                  const loaded_data& data, const data_options& data_opts,
                  const pipeline_events& c) {
    const std::string where = fmt::format("recipe '{}': finetune", cb.rec.name);
    trainable_graph graph = [&] {
        try {
            return trainable_graph(cb.m);
        } catch (const error& e) {
            fail(e.code(), fmt::format("{}: {}", where, e.what()));
        }
    }();
    trainer t(std::move(graph), ft.config(where + "."));
    if (ft.loss == loss_kind::distillation) t.set_teacher(base);
    json constraints = json::object();
    std::vector<std::string> gradual; // the weights the schedule prunes, in graph order
    for (auto& l : cb.layers) {
        const auto& name = l.ref.weight;
        std::string how = "free";
        if (l.quantized) {
            t.set_fake_quant(name, stored_spec(l.ref, l.quantized->spec));
            how = "fake-quant " + l.quantized->spec.to_string();
        } else if (l.palettized && !l.palettized_nonzeros) {
            const auto stored = stored_layout(l.ref, l.weights);
            t.set_clustered(name, recluster_exact(stored.view(), l.palettized->clusters_used(0),
                                                  false, l.ref.name));
            how = fmt::format("clustered ({} centroids)", l.palettized->clusters_used(0));
        } else if (l.palettized) {
            // Pruned, then clustered: the kept weights on their centroids, zeros on a zero
            // centroid of their own (it stays 0 while the others train).
            const auto stored = stored_layout(l.ref, l.weights);
            t.set_clustered(name, recluster_exact(stored.view(),
                                                  distinct_values(stored.view(), false) + 1, true,
                                                  l.ref.name));
            how = fmt::format("clustered ({} centroids) + zero centroid",
                              distinct_values(stored.view(), false));
        } else if (l.sparse) {
            t.set_mask(name, stored_layout(l.ref, l.weights).view()); // nonzero = kept
            how = "mask";
        }
        if (ft.prune && !l.quantized && !l.palettized) {
            check_gradual(l, ft, where);
            gradual.push_back(name);
            how = l.sparse ? "mask, then the gradual schedule" : "the gradual schedule";
        }
        constraints[l.ref.name] = how;
    }
    if (ft.prune) {
        if (gradual.empty())
            fail(status::invalid_argument,
                 fmt::format("{}.prune: no layer to prune (the one-shot steps cluster or quantize "
                             "every selected layer)",
                             where));
        t.set_pruning_schedule(gradual, *ft.prune, ft.prune_scope);
    }
    const auto fit = fit_with_progress(t, data.data, "finetune", c);
    t.write_back(cb.m);
    // The packed forms of the trained weights.
    json pruned = {{"layers", json::object()}}; // what the schedule reached
    double zeros = 0, total = 0;
    for (auto& l : cb.layers) {
        tensor w = weight_nk(cb.m, l.ref);
        if (l.quantized) {
            quantizer q(quantizer_config{l.quantized->spec});
            l.quantized =
                std::make_shared<const quantized_tensor>(q.quantize(w.view(), l.ref.name));
            w = l.quantized->dequantize();
            l.bytes_after = l.quantized->bytes();
        } else if (l.palettized && !l.palettized_nonzeros) {
            l.palettized = std::make_shared<const palettized_tensor>(
                recluster_exact(w.view(), l.palettized->clusters_used(0), false, l.ref.name));
            l.bytes_after = l.palettized->bytes();
        } else if (l.palettized) {
            std::vector<float> nz;
            for (const float v : w.span<float>())
                if (v != 0.0f) nz.push_back(v);
            const auto nzv = make_view(nz.data(), nz.size() * sizeof(float), dtype::f32,
                                       shape{std::int64_t(nz.size())});
            l.palettized = std::make_shared<const palettized_tensor>(
                recluster_exact(nzv, l.palettized->clusters_used(0), false, l.ref.name));
            l.sparse = sparse_tensor::encode(w.view(), sparse_format::bitmask, 2, 4, l.ref.name);
            l.bytes_after = l.palettized->bytes() + l.sparse->index_bytes().size();
        } else if (std::find(gradual.begin(), gradual.end(), l.ref.weight) != gradual.end()) {
            const double s = zero_fraction(w);
            l.scheme = (l.sparse ? l.scheme + " + " : std::string()) +
                       fmt::format("gradual magnitude {:.2f}%", 100 * s);
            l.sparse = sparse_tensor::encode(w.view(), sparse_format::bitmask, 2, 4, l.ref.name);
            l.bytes_after = l.sparse->bytes();
            pruned["layers"][l.ref.name] = s;
            zeros += s * double(w.numel());
            total += double(w.numel());
        } else if (l.sparse) {
            l.sparse = sparse_tensor::encode(w.view(), l.sparse->format(), l.sparse->n(),
                                             l.sparse->m(), l.ref.name);
            l.bytes_after = l.sparse->bytes();
        }
        set_weight_nk(cb.m, l.ref, w);
        l.weights = std::move(w);
        l.scheme += " + finetune";
    }
    if (ft.prune) pruned["sparsity"] = zeros / total; // of the scheduled weights together
    json params = ft.to_json();
    params.erase("kind");
    params["teacher"] = ft.loss == loss_kind::distillation ? json("baseline") : json();
    cb.finetune = {{"params", params},
                   {"data", json::parse(data_json(data, data_opts))},
                   {"constraints", constraints},
                   {"steps", fit.steps},
                   {"final_loss", fit.final_loss},
                   {"training", fit.to_json()}};
    if (ft.prune) cb.finetune["pruning"] = pruned;
}

/// The finetune step's data: its own spec, or the calibration data. Labels are checked here
/// (before anything is recorded).
const loaded_data& finetune_data(const recipe& rec, const loaded_data& calib,
                                 const data_options& data_opts, std::optional<loaded_data>& own) {
    const auto& ft = *rec.finetune;
    if (!ft.data.empty()) own.emplace(load_data(ft.data, data_opts));
    const loaded_data& d = own ? *own : calib;
    if (ft.needs_labels() && !d.data.has_labels())
        fail(status::invalid_argument,
             fmt::format("recipe '{}': finetune data '{}' has no labels, but loss '{}'{} needs "
                         "them",
                         rec.name, d.spec, name_of(ft.loss),
                         ft.loss == loss_kind::distillation ? " with alpha < 1" : ""));
    if (ft.prune) {
        // The schedule must reach final_sparsity within the run (trainer::plan's step count).
        const std::int64_t steps = ft.epochs * ((d.data.size() + ft.batch - 1) / ft.batch);
        const bool open = ft.prune->end_step == -1; // constant, no end: from begin_step on
        const auto last = open ? ft.prune->begin_step : ft.prune->end_step;
        if (last >= steps)
            fail(status::invalid_argument,
                 fmt::format("recipe '{}': finetune.prune.{} {}: the run has {} steps (0…{}: {} "
                             "epochs of {} samples in batches of {}), so final_sparsity would not "
                             "be reached",
                             rec.name, open ? "begin_step" : "end_step", last, steps, steps - 1,
                             ft.epochs, d.data.size(), ft.batch));
    }
    return d;
}

/// Refuses a finetune step whose model has an op without a backward pass (names the node).
void check_trainable(const recipe& rec, const model& base) {
    if (!rec.finetune) return;
    try {
        trainable_graph g(base);
    } catch (const error& e) {
        fail(e.code(), fmt::format("recipe '{}': finetune: {}", rec.name, e.what()));
    }
}

// ---- packed weight-only execution --------------------------------------------------------

/// Layers the recipe runs in f32 whose stored form the executor runs packed: int4 per-group
/// quantized weights (kernels::int4_matmul) and palettized weights (kernels::palettized_matmul).
/// A form the executor refuses stays on the dequantized f32 path; cb.packed says why.
void use_packed_paths(candidate_build& cb) {
    if (cb.rec.execution != exec_precision::f32) return;
    for (const auto& l : cb.layers) {
        if (l.quantized && l.quantized->spec.bits == 4) {
            try {
                (void)l.quantized->to_int4_weights();
                cb.exec.int4_weights[l.ref.weight] = l.quantized;
            } catch (const error& e) {
                cb.packed[l.ref.name] = {{"path", "f32 (dequantized)"}, {"why", e.what()}};
            }
        } else if (l.palettized && !l.palettized_nonzeros) {
            cb.exec.palettized_weights[l.ref.weight] = l.palettized;
        }
    }
    const auto try_plan = [&](const executor_options& o) {
        try {
            executor e(cb.m, o);
            return std::string();
        } catch (const error& e) {
            return std::string(e.what());
        }
    };
    if (try_plan(cb.exec).empty()) return;
    // Something was refused: keep the packed layers the executor takes one by one.
    auto int4 = std::move(cb.exec.int4_weights);
    auto pal = std::move(cb.exec.palettized_weights);
    cb.exec.int4_weights.clear();
    cb.exec.palettized_weights.clear();
    const auto layer_of = [&](const std::string& weight) {
        for (const auto& l : cb.layers)
            if (l.ref.weight == weight) return l.ref.name;
        return weight;
    };
    for (auto& [w, q] : int4) {
        auto o = cb.exec;
        o.int4_weights[w] = q;
        if (const auto why = try_plan(o); why.empty())
            cb.exec.int4_weights[w] = q;
        else
            cb.packed[layer_of(w)] = {{"path", "f32 (dequantized)"}, {"why", why}};
    }
    for (auto& [w, p] : pal) {
        auto o = cb.exec;
        o.palettized_weights[w] = p;
        if (const auto why = try_plan(o); why.empty())
            cb.exec.palettized_weights[w] = p;
        else
            cb.packed[layer_of(w)] = {{"path", "f32 (dequantized)"}, {"why", why}};
    }
};

json ranges_json(const std::map<std::string, tensor_range, std::less<>>& ranges) {
    json r = json::object();
    for (const auto& [k, v] : ranges)
        r[k] = {v.lo, v.hi};
    return r;
}

/// The 8-bit grid the deployable file gives tensor `name` (observed `values`): u8 affine, its
/// range holding 0. `consumer` (the weights of the Gemm/MatMul reading it) lets the auto method
/// score candidate ranges by that layer's output error.
tensor_range file_grid(const std::string& name, const tensor& values, calib_method method,
                       const tensor* consumer) {
    calibrator_params p;
    p.method = method;
    p.type = dtype::u8;
    p.scheme = kernels::quant_scheme::affine;
    // 8-bit grids on every machine: the file is for other engines, and its bytes must not
    // depend on the CPU that made it. (hone's executor runs a full 8-bit grid exactly where
    // int8 pairs saturate: it splits the activations, kernels/gemm.)
    p.reduce_range = false;
    p.name = name;
    calibrator cal(p);
    cal.observe(values.view());
    if (method == calib_method::auto_select) {
        if (consumer) cal.set_consumer(consumer->view());
        cal.score(values.view());
    }
    const auto res = cal.result();
    return {std::min(0.0f, res.min.at(0)), std::max(0.0f, res.max.at(0))};
}

candidate_build build_candidate(const model& base, const recipe& rec, const loaded_data& calib,
                                const loaded_data* tune_data, const data_options& data_opts,
                                const pipeline_events& c) {
    // The recipe works on the model as engines run it: BatchNormalization folded into the Conv
    // before it (the executor folds the same way; ONNX Runtime cannot fold it into a quantized
    // Conv). Conv outputs then carry the BatchNormalization's names, which the baseline has.
    model src = base.clone();
    (void)fold_batch_norm(src);
    const auto calib_inputs = evaluation_of(calib).inputs;
    // SmoothQuant: the scales folded into the model first, so every step and the activation
    // ranges see the smoothed weights and activations.
    // AWQ likewise: its scales are searched per group of layers that share an input and folded
    // into what produces it; the quantize step then rounds the scaled weights.
    json smoothed = nullptr, awq = nullptr;
    {
        const auto all = find_layers(src);
        const auto chosen = selected_steps(rec, all);
        std::vector<layer_ref> selected, awq_layers;
        std::optional<recipe_step> awq_step;
        for (std::size_t i = 0; i < all.size(); ++i) {
            if (!chosen[i]) continue;
            selected.push_back(all[i]);
            for (const auto& st : *chosen[i])
                if (st.what == recipe_step::kind::quantize && st.quantizing == weight_method::awq &&
                    !all[i].is_conv()) {
                    awq_layers.push_back(all[i]);
                    if (!awq_step) awq_step = st;
                }
        }
        const auto observe_calib = [&](const model& m, const std::set<std::string>& names) {
            return observe(m, {}, calib_inputs, names, 4096, "calibration (scales)", {});
        };
        if (rec.smooth_quant) {
            stage bar(c, "smoothing (SmoothQuant)", 0);
            scale_search sq;
            sq.alpha = rec.smooth_quant->alpha;
            smoothed = smooth_and_fold(src, selected, sq, observe_calib);
            bar.finish();
        }
        if (awq_step) {
            stage bar(c, "AWQ scales", 0);
            scale_search aw;
            aw.what = scale_search::kind::awq;
            aw.spec.bits = awq_step->bits;
            aw.spec.granularity = awq_step->granularity;
            aw.spec.group_size = awq_step->group_size; // group_for(…, K) of each group
            awq = smooth_and_fold(src, awq_layers, aw, observe_calib);
            bar.finish();
        }
    }
    candidate_build cb{rec,
                       src.clone(),
                       {},
                       {},
                       0,
                       nullptr,
                       json::object(),
                       {},
                       smoothed,
                       awq,
                       takes_tokens(src) ? src.clone() : model{}};
    const auto layers = find_layers(src);
    struct chosen {
        layer_ref ref;
        std::vector<recipe_step> steps;
    };
    std::vector<chosen> todo;
    auto steps = selected_steps(rec, layers);
    for (std::size_t i = 0; i < layers.size(); ++i)
        if (steps[i]) todo.push_back({layers[i], std::move(*steps[i])});
    if (todo.empty())
        fail(status::invalid_argument,
             fmt::format("recipe '{}': selects no layer of '{}' (layers hone optimizes: Gemm, "
                         "MatMul, Conv and ConvTranspose with constant weights; see hone inspect)",
                         rec.name, base.source));
    // Calibration activations of the selected layers' inputs (Hessians for GPTQ/SparseGPT,
    // norms for Wanda). Sequential (the recipe's default, as GPTQ does it): the layers in graph
    // order, those that read one input (q, k and v; gate and up) together, each group's input
    // observed on the candidate as changed so far, so a layer corrects the error of the layers
    // before it; one group's inputs are held at a time. Otherwise all at once, on the baseline.
    std::map<std::string, tensor> xs;
    const bool needs_inputs = rec.needs_layer_inputs();
    if (needs_inputs && !rec.sequential) {
        std::set<std::string> names;
        for (const auto& t : todo)
            if (!t.ref.is_conv()) names.insert(t.ref.input);
        xs = observe(src, {}, calib_inputs, names, 4096, "calibration (layer inputs)", c);
    }
    {
        stage bar(c, "applying " + rec.name, todo.size());
        const pipeline_events quiet; // a group's observation: the layer bar stands for it
        for (const auto& t : todo) {
            if (needs_inputs && rec.sequential && !t.ref.is_conv() && !xs.count(t.ref.input)) {
                xs.clear(); // the previous group's inputs are done with
                xs = observe(cb.m, {}, calib_inputs, {t.ref.input}, 4096,
                             "calibration (layer inputs)", quiet);
            }
            const auto it = xs.find(t.ref.input);
            auto r = apply_steps(t.ref, weight_nk(src, t.ref), t.steps,
                                 it == xs.end() ? nullptr : &it->second);
            set_weight_nk(cb.m, t.ref, r.weights);
            cb.layers.push_back(std::move(r));
            bar.advance();
        }
        bar.finish();
    }
    // The finetune step: the whole candidate, after the one-shot steps.
    if (rec.finetune)
        run_finetune(cb, base, *rec.finetune, tune_data ? *tune_data : calib, data_opts, c);
    // Execution: the selected layers in the recipe's precision, every other one in f32.
    cb.exec.precision = rec.execution;
    if (rec.execution != exec_precision::f32) {
        std::set<std::string> selected;
        for (const auto& t : todo)
            selected.insert(t.ref.name);
        for (const auto& nd : src.nodes)
            if ((nd.op_type == "Gemm" || nd.op_type == "MatMul" || nd.op_type == "Conv") &&
                !selected.count(nd.name))
                cb.exec.f32_nodes.push_back(nd.name);
    }
    if (rec.execution == exec_precision::int8_static) {
        // Activation ranges of the candidate's own tensors (its weights already changed): every
        // tensor the deployable file gives a grid, each chosen by the calibrator — for the
        // input of a Gemm/MatMul against that layer's output error.
        const auto names = deploy_grid_tensors(deploy_input_of(cb));
        const std::set<std::string> wanted(names.begin(), names.end());
        const auto acts =
            observe(cb.m, {}, calib_inputs, wanted, 4096, "calibration (activation ranges)", c);
        for (const auto& name : names) {
            const auto it = acts.find(name);
            if (it == acts.end())
                fail(status::internal, fmt::format("activation '{}' was not observed", name));
            const auto consumer =
                std::find_if(cb.layers.begin(), cb.layers.end(), [&](const layer_result& l) {
                    return l.ref.input == name && !l.ref.is_conv();
                });
            const auto range =
                file_grid(name, it->second, rec.calibration,
                          consumer != cb.layers.end() ? &consumer->weights : nullptr);
            cb.grids[name] = range;
            for (const auto& l : cb.layers)
                if (l.ref.input == name) cb.exec.activation_ranges[name] = range;
        }
    }
    if (rec.kv_cache_int8) {
        // The int8 KV cache: the keys and values the attention products read (input B of every
        // MatMul of two activations: Kᵀ of the scores, V of the context) go through an 8-bit
        // grid, the precision a KV cache of int8 stores them in (static per-tensor ranges,
        // MinMax on the calibration data; the deployable file carries them as Q/DQ pairs).
        std::set<std::string> kv;
        for (const auto& nd : cb.m.nodes)
            if (nd.op_type == "MatMul" && nd.inputs.size() == 2 && !cb.m.has_weight(nd.inputs[0]) &&
                !cb.m.has_weight(nd.inputs[1]) && cb.m.producer(nd.inputs[1]))
                kv.insert(nd.inputs[1]);
        if (kv.empty())
            fail(status::invalid_argument,
                 fmt::format("recipe '{}': kv_cache int8, but '{}' has no attention product (a "
                             "MatMul of two activations) whose keys and values to quantize",
                             rec.name, base.source));
        const auto acts = observe(cb.m, {}, calib_inputs, kv, 4096, "calibration (KV cache)", c);
        cb.kv_cache = json::array();
        for (const auto& name : kv) {
            const auto it = acts.find(name);
            if (it == acts.end())
                fail(status::internal, fmt::format("KV tensor '{}' was not observed", name));
            const auto range = file_grid(name, it->second, calib_method::min_max, nullptr);
            cb.grids[name] = range;
            cb.kv_cache.push_back({{"tensor", name}, {"range", {range.lo, range.hi}}});
        }
    }
    // int4 / palettized layers run weight-only on their packed form where the executor can.
    // (Each layer's path is added from the plan that runs the shipped model: layer_paths.)
    use_packed_paths(cb);
    json packed_weights = json::object();
    for (const auto& [w, q] : cb.exec.int4_weights)
        packed_weights[w] = "int4";
    for (const auto& [w, p] : cb.exec.palettized_weights)
        packed_weights[w] = "palettized";
    // The artifact says how it must run (hone reads it back with its recipe): the execution
    // precision, the activation ranges, the f32 layers and the layers that run on their packed
    // weights (in weights.safetensors), in the model's doc string.
    cb.m.doc = json{{"hone",
                     {{"recipe", rec.to_json()},
                      {"execution", execution_name(cb.exec.precision)},
                      {"activation_ranges", ranges_json(cb.exec.activation_ranges)},
                      {"f32_nodes", cb.exec.f32_nodes},
                      {"packed_weights", packed_weights}}}}
                   .dump();
    // Packed size: the selected layers as stored, every other weight as it is.
    std::set<std::string> changed;
    for (const auto& l : cb.layers) {
        changed.insert(l.ref.weight);
        cb.model_bytes += l.bytes_after;
    }
    for (const auto& name : src.weight_names())
        if (!changed.count(name)) cb.model_bytes += src.weight(name).nbytes();
    return cb;
}

/// Per-layer error of the layer outputs, baseline f32 vs the candidate as `file` runs it.
std::vector<layer_error> layer_errors(const model& base, const candidate_build& cb,
                                      const model& file, const executor_options& exec,
                                      const_tensor_view calib_inputs, const pipeline_events& c) {
    const auto& rec = cb.rec;
    std::vector<layer_error> errors;
    {
        std::set<std::string> outs;
        for (const auto& l : cb.layers)
            outs.insert(l.ref.output);
        const auto b = observe(base, {}, calib_inputs, outs, 512, "layer error (baseline)", c);
        const auto k = observe(file, exec, calib_inputs, outs, 512, "layer error (candidate)", c);
        layer_error_collector col;
        for (const auto& l : cb.layers) {
            const auto bi = b.find(l.ref.output);
            const auto ki = k.find(l.ref.output);
            layer_error e;
            e.name = l.ref.name;
            e.op = l.ref.op;
            e.scheme = l.scheme + (rec.execution != exec_precision::f32
                                       ? std::string(", runs ") + execution_name(rec.execution)
                                       : std::string());
            if (cb.packed.contains(l.ref.name) && cb.packed[l.ref.name].contains("path"))
                e.scheme += " [" + cb.packed[l.ref.name]["path"].get<std::string>() + "]";
            e.bytes_before = l.bytes_before;
            e.bytes_after = l.bytes_after;
            if (bi != b.end() && ki != k.end()) {
                col.add(l.ref.output, bi->second.view(), ki->second.view());
                const auto& le = col.layers().back();
                const double sq = le.sqnr_db();
                if (std::isfinite(sq)) {
                    e.sqnr_db = sq;
                    e.relative_error = std::pow(10.0, -sq / 20.0);
                } else {
                    e.relative_error = 0.0;
                }
            }
            errors.push_back(std::move(e));
        }
    }
    if (takes_tokens(base)) {
        // Each layer alone: the reference model (the candidate's f32 starting point, scales
        // folded) with only this layer as the candidate runs it, against the reference's
        // next-token distribution on the first calibration sequences.
        const auto tokens =
            calib_inputs.slice(0, 0, std::min<std::int64_t>(16, calib_inputs.dims()[0]));
        const tensor targets = next_token_targets(tokens);
        const tensor ref_logits = std::move(executor(cb.reference).run(tokens)[0]);
        stage bar(c, "layer KL (each layer alone)", cb.layers.size());
        for (std::size_t i = 0; i < cb.layers.size(); ++i) {
            const auto& l = cb.layers[i];
            model alone = cb.reference.clone();
            set_weight_nk(alone, l.ref, l.weights);
            executor_options o = cb.exec;
            o.int4_weights.clear();
            o.palettized_weights.clear();
            if (auto it = cb.exec.int4_weights.find(l.ref.weight); it != cb.exec.int4_weights.end())
                o.int4_weights.insert(*it);
            if (auto it = cb.exec.palettized_weights.find(l.ref.weight);
                it != cb.exec.palettized_weights.end())
                o.palettized_weights.insert(*it);
            for (const auto& other : cb.layers)
                if (other.ref.name != l.ref.name) o.f32_nodes.push_back(other.ref.name);
            const tensor logits = std::move(executor(alone, o).run(tokens)[0]);
            double kl = 0;
            std::int64_t n = 0;
            for (const auto& s :
                 lm_sequence_statistics(ref_logits.view(), logits.view(), targets.view())) {
                kl += s.kl;
                n += s.tokens;
            }
            if (n > 0) errors[i].kl = kl / double(n);
            bar.advance();
        }
        bar.finish();
    }
    return errors;
}

/// The candidate as validated: the deployable file read back (qdq, matmulnbits), or hone's
/// candidate graph with its run configuration (hone: the packed weights hold its size).
struct shipped {
    std::optional<deployable> file;
    const model* m = nullptr;
    const executor_options* exec = nullptr;
    std::uint64_t bytes = 0;
    std::string form;
};

shipped ship(const candidate_build& cb, artifact_format f, const std::string& source) {
    shipped s;
    if (f != artifact_format::hone) {
        s.file.emplace(make_deployable(deploy_input_of(cb), f, source));
        s.m = &s.file->m;
        s.exec = &s.file->exec;
        s.bytes = s.file->bytes.size();
        s.form = s.file->form;
    } else {
        s.m = &cb.m;
        s.exec = &cb.exec;
        s.bytes = cb.model_bytes;
        s.form = "hone packed weights (safetensors) + f32 ONNX graph";
    }
    return s;
}

/// Each changed layer's execution path in `plan` (merged into cb.packed's reasons).
json layer_paths(const candidate_build& cb, const executor& plan) {
    json out = cb.packed;
    for (const auto& l : cb.layers)
        for (const auto& nr : plan.report())
            if (nr.node == l.ref.name) {
                if (!out.contains(l.ref.name)) out[l.ref.name] = json::object();
                out[l.ref.name]["path"] = nr.path;
            }
    return out;
}

/// The size of `m` as one self-contained ONNX file (every weight inline).
std::uint64_t onnx_file_bytes(const model& m) { return serialize_onnx(m, false).size(); }

const_tensor_view bytes_view(const tensor& t) {
    return make_view(t.data(), t.nbytes(), dtype::u8, shape{std::int64_t(t.nbytes())});
}

/// The safetensors bytes of the candidate: hone's packed weights with packing metadata, and
/// every weight the recipe did not change as it is.
std::string packed_safetensors(const candidate_build& cb) {
    std::vector<io::safetensors_entry> entries;
    io::safetensors_metadata meta;
    std::deque<tensor> keep; // buffers the entries view (stable addresses)
    std::set<std::string> changed;
    json layers = json::object();
    for (const auto& l : cb.layers) {
        changed.insert(l.ref.weight);
        json info{{"layer", l.ref.name},
                  {"op", l.ref.op},
                  {"scheme", l.scheme},
                  {"dims_nk", {l.ref.n, l.ref.k}},
                  {"onnx_layout", layout_name(l.ref.layout)},
                  {"bytes", l.bytes_after}};
        const auto& w = l.ref.weight;
        if (l.quantized) {
            const auto& q = *l.quantized;
            info["format"] = "quantized";
            info["spec"] = q.spec.to_string();
            info["spec_fields"] = spec_json(q.spec);
            info["bits"] = q.spec.bits;
            info["group_size"] = q.spec.group_size;
            info["data_dtype"] = std::string(name_of(q.data.type()));
            entries.push_back({w + ".qdata", bytes_view(q.data)});
            entries.push_back({w + ".scales", q.scales.view()});
            if (q.zero_points.numel())
                entries.push_back({w + ".zero_points", bytes_view(q.zero_points)});
        } else if (l.palettized) {
            const auto& p = *l.palettized;
            info["format"] = l.palettized_nonzeros ? "palettized_sparse" : "palettized";
            info["bits"] = p.bits();
            info["palette_dims"] = dims_json(p.dims());
            entries.push_back({w + ".indices", p.packed_indices().view()});
            entries.push_back({w + ".codebooks", p.codebooks().view()});
            if (l.palettized_nonzeros) {
                const auto idx = l.sparse->index_bytes();
                tensor t(dtype::u8, shape{std::int64_t(idx.size())});
                std::memcpy(t.data(), idx.data(), idx.size());
                keep.push_back(std::move(t));
                entries.push_back({w + ".mask", keep.back().view()});
                info["mask"] = "bitmask, LSB-first, row-major [N,K]";
            }
        } else if (l.sparse) {
            const auto& s = *l.sparse;
            info["format"] = s.format() == sparse_format::n_m ? "sparse_n_m" : "sparse_bitmask";
            if (s.format() == sparse_format::n_m) {
                info["n"] = s.n();
                info["m"] = s.m();
            }
            const auto vals = s.values();
            tensor v(dtype::f32, shape{std::int64_t(vals.size())});
            std::memcpy(v.data(), vals.data(), vals.size() * sizeof(float));
            const auto idx = s.index_bytes();
            tensor ix(dtype::u8, shape{std::int64_t(idx.size())});
            std::memcpy(ix.data(), idx.data(), idx.size());
            keep.push_back(std::move(v));
            entries.push_back({w + ".values", keep.back().view()});
            keep.push_back(std::move(ix));
            entries.push_back({w + ".index", keep.back().view()});
        }
        layers[w] = info;
    }
    for (const auto& name : cb.m.weight_names())
        if (!changed.count(name)) entries.push_back({name, cb.m.weight(name).view()});
    meta["format"] = "hone packed weights (docs/cli.md, Artifacts)";
    meta["recipe"] = cb.rec.to_json().dump();
    meta["layers"] = layers.dump();
    meta["execution"] = execution_name(cb.exec.precision);
    return io::serialize_safetensors(entries, meta);
}

} // namespace

// ---- the engine's runners ------------------------------------------------------------------

/// An engine's runner with the file's size (and hone's count of the arithmetic when the engine
/// gives none): the size and utilisation figures stay comparable with hone's own runs.
class engine_runner final : public runner {
public:
    engine_runner(std::unique_ptr<runner> inner, std::uint64_t bytes, work w)
        : inner_(std::move(inner)), bytes_(bytes), work_(w) {}
    std::string name() const override { return inner_->name(); }
    tensor run(const_tensor_view inputs) override { return inner_->run(inputs); }
    std::uint64_t model_bytes() const override {
        const auto b = inner_->model_bytes();
        return b ? b : bytes_;
    }
    work work_per_sample() const override {
        const auto w = inner_->work_per_sample();
        return w.ops_per_sample > 0 ? w : work_;
    }

private:
    std::unique_ptr<runner> inner_;
    std::uint64_t bytes_;
    work work_;
};

/// factory(role, bytes), refused clearly when it gives nothing.
std::unique_ptr<runner> engine_runner_for(const runner_factory& factory, const char* role,
                                          std::string_view bytes, std::uint64_t size,
                                          runner::work w) {
    auto r = factory(role, std::span<const std::uint8_t>(
                               reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    if (!r)
        fail(status::invalid_argument,
             fmt::format("the engine's runner factory gave no runner for the {}", role));
    return std::make_unique<engine_runner>(std::move(r), size, w);
}

// ---- accuracy-aware search ---------------------------------------------------------------

/// Top-1 of r's answers against `labels` over `inputs` (batches of 256).
double top1_against(runner& r, const_tensor_view inputs, const std::vector<std::int64_t>& labels) {
    const auto n = inputs.dims()[0];
    std::int64_t correct = 0;
    for (std::int64_t b = 0; b < n; b += 256)
        correct +=
            count_correct(argmax_rows(r.run(inputs.slice(0, b, std::min(n, b + 256)))), labels, b);
    return n ? double(correct) / double(n) : 0.0;
}

/// The first `samples` calibration inputs and what the baseline answers on them.
struct ranking_data {
    tensor inputs;
    std::vector<std::int64_t> labels; ///< the data's, or the baseline's top-1 when unlabeled
    tensor baseline_outputs;
    double baseline_accuracy = 0; ///< of baseline_outputs against labels
    bool labeled = false;
};

ranking_data ranking_data_of(runner& baseline, const loaded_data& calib, std::int64_t samples) {
    const auto ev = evaluation_of(calib);
    const auto n = std::min(ev.inputs.dims()[0], samples);
    ranking_data d;
    d.inputs = tensor::copy_of(ev.inputs.slice(0, 0, n));
    d.baseline_outputs = baseline.run(d.inputs.view());
    d.labeled = !ev.labels.empty();
    const auto predicted = argmax_rows(d.baseline_outputs);
    if (d.labeled)
        d.labels.assign(ev.labels.begin(), ev.labels.begin() + n);
    else
        d.labels = predicted; // accuracy is then agreement with the baseline
    d.baseline_accuracy = n ? double(count_correct(predicted, d.labels, 0)) / double(n) : 0.0;
    return d;
}

/// The selected layers of `rec` on the model as candidates are built (BatchNormalization folded).
std::vector<layer_ref> selected_layers(const model& base, const recipe& rec) {
    model folded = base.clone();
    (void)fold_batch_norm(folded);
    const auto layers = find_layers(folded);
    const auto steps = selected_steps(rec, layers);
    std::vector<layer_ref> out;
    for (std::size_t i = 0; i < layers.size(); ++i)
        if (steps[i]) out.push_back(layers[i]);
    return out;
}

/// `r` with the layers `kept` at the search's higher precision: excluded (f32), or quantized at
/// `keep_bits` by a per-layer override of the quantize step.
void keep_layers(recipe& r, const std::vector<std::string>& kept, int keep_bits) {
    if (keep_bits == 32) {
        r.exclude.insert(r.exclude.end(), kept.begin(), kept.end());
        return;
    }
    for (const auto& name : kept) {
        recipe_override ov;
        ov.pattern = name;
        ov.step_params = json{{"quantize", {{"bits", keep_bits}}}};
        r.overrides.push_back(std::move(ov));
    }
}

/// The recipe's accuracy_search on the first ranking_samples calibration samples: each trial is
/// the deployable file of the recipe with some layers kept (keep_layers), as it will ship.
search_result run_search(const model& base, runner& baseline_plan, const recipe& rec,
                         const loaded_data& calib, const data_options& data_opts,
                         artifact_format format, const std::string& source,
                         const pipeline_events& c) {
    const auto& params = *rec.search; // (optimize() refused a search with a finetune step)
    const auto data = ranking_data_of(baseline_plan, calib, params.ranking_samples);
    std::vector<std::string> names;
    for (const auto& l : selected_layers(base, rec))
        names.push_back(l.name);
    recipe plain = rec;
    plain.search.reset();
    const auto measure = [&](const std::vector<std::string>& kept) {
        recipe r = plain;
        keep_layers(r, kept, params.keep_bits);
        const auto cb = build_candidate(base, r, calib, nullptr, data_opts, c);
        const auto sh = ship(cb, format, source);
        sized_runner run(*sh.m, *sh.exec, "trial", sh.bytes);
        return top1_against(run, data.inputs.view(), data.labels);
    };
    note(c, fmt::format("accuracy search: {} layer(s), ranking on {} calibration samples{}",
                        names.size(), data.labels.size(),
                        data.labeled ? "" : " (agreement with the baseline: no labels)"));
    return search_layers(params, names, data.baseline_accuracy, measure, c);
}

/// Σ(y − y₀)² / Σ y₀² over two output tensors of one shape.
double relative_noise(const tensor& y, const tensor& y0) {
    const auto a = y.span<const float>(), b = y0.span<const float>();
    double num = 0, den = 0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        const double d = double(a[i]) - double(b[i]);
        num += d * d;
        den += double(b[i]) * double(b[i]);
    }
    return den > 0 ? num / den : num;
}

/// How a budget choice is written into the recipe: f32 = excluded, a palette = the layer's steps
/// replaced by one cluster step, else the quantize step's bits.
recipe_override override_for(const std::string& layer, int bits, int clusters) {
    recipe_override ov;
    ov.pattern = layer;
    if (clusters > 0) {
        recipe_step palette;
        palette.what = recipe_step::kind::cluster;
        palette.clusters = clusters;
        ov.steps.push_back(palette);
    } else if (bits == 32) {
        ov.exclude = true;
    } else {
        ov.step_params = json{{"quantize", {{"bits", bits}}}};
    }
    return ov;
}

/// The recipe's precision_budget: every selected layer measured alone under each choice, then
/// allocate_precision (for a file target, checked on the chosen file: precision_budget). Returns
/// the recipe with the choices as per-layer overrides, and the allocation's JSON.
std::pair<recipe, json> run_budget(const model& base, runner& baseline_plan, const recipe& rec,
                                   const loaded_data& calib, const data_options& data_opts,
                                   artifact_format format, const std::string& source,
                                   const pipeline_events& c) {
    const auto& params = *rec.budget;
    const auto data = ranking_data_of(baseline_plan, calib, params.ranking_samples);
    const auto layers = selected_layers(base, rec);
    recipe plain = rec;
    plain.budget.reset();
    // A file target prices each choice by what it adds to the file: a trial's file bytes less
    // the f32 model's as candidates are built (BatchNormalization folded), plus the layer's f32.
    std::int64_t reference = 0;
    if (params.file_bytes) {
        model folded = base.clone();
        (void)fold_batch_norm(folded);
        reference = std::int64_t(onnx_file_bytes(folded));
    }
    // The choices tried per layer: (bits, 0) quantized, (index bits, clusters) a palette.
    std::vector<std::pair<int, int>> tried;
    for (const int bits : params.choices)
        tried.emplace_back(bits, 0);
    for (const int k : params.palettes)
        tried.emplace_back(int(std::bit_width(unsigned(k - 1))), k);
    std::vector<layer_options> options;
    std::uint64_t weights = 0;
    note(c, fmt::format("precision budget: {} layer(s) × {} choice(s) + f32, {}, noise measured on "
                        "{} calibration samples",
                        layers.size(), tried.size(),
                        params.file_bytes
                            ? fmt::format("a file of at most {} bytes", *params.file_bytes)
                            : fmt::format("{:.2f} bits per weight", params.bits_per_weight),
                        data.labels.size()));
    stage bar(c, "precision budget", layers.size() * tried.size());
    for (const auto& l : layers) {
        const auto f32_bytes = std::uint64_t(l.n * l.k) * 4;
        weights += std::uint64_t(l.n * l.k);
        layer_options lo{l.name, {precision_option{32, 0.0, f32_bytes}}};
        for (const auto& [bits, clusters] : tried) {
            recipe r = plain;
            r.include = {l.name};
            r.overrides.push_back(override_for(l.name, bits, clusters));
            const auto cb = build_candidate(base, r, calib, nullptr, data_opts, c);
            const auto sh = ship(cb, format, source);
            sized_runner run(*sh.m, *sh.exec, "budget trial", sh.bytes);
            const auto y = run.run(data.inputs.view());
            const auto cost =
                params.file_bytes
                    ? std::uint64_t(std::max<std::int64_t>(0, std::int64_t(sh.bytes) - reference +
                                                                  std::int64_t(f32_bytes)))
                    : cb.layers.at(0).bytes_after;
            lo.options.push_back(
                precision_option{bits, relative_noise(y, data.baseline_outputs), cost, clusters});
            bar.advance();
        }
        options.push_back(std::move(lo));
    }
    bar.finish();
    const auto recipe_of = [&](const precision_allocation& a) {
        recipe chosen = plain;
        for (std::size_t i = 0; i < options.size(); ++i) {
            const auto& o = options[i].options[a.choice[i]];
            chosen.overrides.push_back(override_for(options[i].layer, o.bits, o.clusters));
        }
        return chosen;
    };
    std::uint64_t budget_bytes = 0;
    if (params.file_bytes) {
        // What the selected layers may take: the target less the file's other bytes.
        const auto others = reference - std::int64_t(weights * 4);
        budget_bytes = std::uint64_t(std::max<std::int64_t>(
            0, std::int64_t(*params.file_bytes) - std::max<std::int64_t>(others, 0)));
    } else {
        budget_bytes = std::uint64_t(params.bits_per_weight * double(weights) / 8.0);
    }
    auto a = allocate_precision(options, budget_bytes);
    std::optional<std::uint64_t> file_bytes;
    for (int round = 0; params.file_bytes && round < 5; ++round) {
        const auto cb = build_candidate(base, recipe_of(a), calib, nullptr, data_opts, c);
        file_bytes = ship(cb, format, source).bytes;
        if (*file_bytes <= *params.file_bytes || !a.feasible || round == 4) break;
        const auto excess = *file_bytes - *params.file_bytes;
        budget_bytes = budget_bytes > excess ? budget_bytes - excess : 0;
        note(c, fmt::format("precision budget: the file has {} bytes, {} over the target: "
                            "allocating again within {} bytes",
                            *file_bytes, excess, budget_bytes));
        a = allocate_precision(options, budget_bytes);
    }
    auto j = allocation_json(options, a, budget_bytes);
    j["params"] = params.to_json();
    j["bits_per_weight"] = double(a.bytes) * 8.0 / double(std::max<std::uint64_t>(weights, 1));
    if (file_bytes) {
        j["file_bytes"] = *file_bytes;
        j["feasible"] = a.feasible && *file_bytes <= *params.file_bytes;
    }
    note(c,
         fmt::format("precision budget: {:.2f} bits per weight chosen ({} of {} bytes){}, summed "
                     "noise {:.3g}{}",
                     j["bits_per_weight"].get<double>(), a.bytes, budget_bytes,
                     file_bytes ? fmt::format(", a file of {} bytes", *file_bytes) : std::string(),
                     a.noise,
                     !a.feasible ? "; the budget cannot be met: smallest choices taken"
                     : !j["feasible"].get<bool>()
                         ? "; the file is still over the target after 5 allocations"
                         : ""));
    return {recipe_of(a), j};
}

// ---- optimize ----------------------------------------------------------------------------

std::int64_t group_for(std::int64_t wanted, std::int64_t k) {
    if (k % wanted == 0) return wanted;
    for (std::int64_t g = std::min(wanted, k); g >= 2; --g)
        if (k % g == 0 && g % 2 == 0) return g;
    return k;
}

json dims_json(const shape& d) {
    json a = json::array();
    for (std::size_t i = 0; i < d.rank(); ++i)
        a.push_back(d[i]);
    return a;
}

} // namespace hone::pipeline

namespace hone {

using namespace hone::pipeline;

optimize_outcome optimize(const optimize_request& o, const pipeline_events& c) {
    // Everything that can be refused is refused before the ledger changes.
    // A typed recipe goes through its JSON form: the same checks as a file, naming the field.
    auto rec = std::holds_alternative<recipe>(o.recipe)
                   ? parse_recipe(std::get<recipe>(o.recipe).to_json().dump(),
                                  std::get<recipe>(o.recipe).name)
                   : load_recipe(std::get<std::string>(o.recipe));
    if (o.tolerable_drop) {
        if (!(*o.tolerable_drop >= 0 && *o.tolerable_drop < 1))
            fail(status::invalid_argument,
                 fmt::format("tolerable_drop (--tolerable-drop) {} must lie in [0, 1) (a "
                             "fraction: 0.003 is 0.3 points)",
                             *o.tolerable_drop));
        if (!rec.search) rec.search.emplace();
        rec.search->tolerable_drop = *o.tolerable_drop;
        rec.search->relative = o.relative_drop;
    }
    // A budget chooses the bits of the recipe's quantize step: there must be one.
    const auto needs_quantize_step = [&rec](const char* what) {
        if (std::none_of(rec.steps.begin(), rec.steps.end(), [](const recipe_step& s) {
                return s.what == recipe_step::kind::quantize;
            }))
            fail(status::invalid_argument,
                 fmt::format("{}: recipe '{}' has no quantize step, whose bits the budget chooses",
                             what, rec.name));
    };
    if (o.target_bits_per_weight) {
        if (!(*o.target_bits_per_weight > 0 && *o.target_bits_per_weight <= 32))
            fail(status::invalid_argument,
                 fmt::format("target_bits_per_weight (--target-bpw) {} must lie in (0, 32]",
                             *o.target_bits_per_weight));
        needs_quantize_step("target_bits_per_weight (--target-bpw)");
        if (!rec.budget) rec.budget.emplace();
        rec.budget->bits_per_weight = *o.target_bits_per_weight;
        rec.budget->file_bytes.reset();
    }
    if (o.target_file_bytes) {
        if (o.target_bits_per_weight)
            fail(status::invalid_argument,
                 "target_bits_per_weight (--target-bpw) and target_file_bytes (--target-bytes) "
                 "are alternatives: give one");
        if (*o.target_file_bytes == 0)
            fail(status::invalid_argument, "target_file_bytes (--target-bytes) must be at least 1");
        needs_quantize_step("target_file_bytes (--target-bytes)");
        if (!rec.budget) rec.budget.emplace();
        rec.budget->file_bytes = *o.target_file_bytes;
    }
    if (!o.tolerable_drop && o.relative_drop) {
        fail(status::invalid_argument,
             "relative_drop (--relative-drop) needs tolerable_drop (--tolerable-drop)");
    }
    if ((rec.search || rec.budget) && rec.finetune)
        fail(status::unsupported,
             fmt::format("recipe '{}': an accuracy search or precision budget with a finetune "
                         "step is not supported (every trial would retrain the model)",
                         rec.name));
    if (rec.search && rec.budget)
        fail(status::invalid_argument,
             fmt::format("recipe '{}': a precision budget and an accuracy search "
                         "(--tolerable-drop) are alternatives: give one",
                         rec.name));
    const auto format = parse_artifact_format(o.format);
    if (rec.kv_cache_int8 && format == artifact_format::hone)
        fail(status::invalid_argument,
             fmt::format("recipe '{}': the int8 KV cache is carried by Q/DQ pairs in an ONNX "
                         "artifact: give format qdq or matmulnbits, not hone",
                         rec.name));
    if (o.engine && format == artifact_format::hone)
        fail(status::invalid_argument,
             "format 'hone' cannot be validated by the engine's runners (its packed weights are "
             "hone's own): give format qdq or matmulnbits");
    const auto pol = parse_policy_argument(o.policy);
    const auto key = load_signing_key(o.key);
    const auto paths = artifact_paths_for(o.out);
    if (!o.report.empty()) check_writable_dir(o.report, "--report");
    check_writable_dir(o.ledger.parent_path().empty() ? fs::path(".") : o.ledger.parent_path(),
                       "--ledger");
    const auto opts = options_of(o.validation);
    model base = load_model(o.model);
    // The baseline compiled once, here (an operator hone cannot run is refused before any data
    // is read); the same plan serves the shape check, the validation and the search's ranking.
    const auto base_bytes = onnx_file_bytes(base);
    sized_runner own_baseline(base, {}, "baseline f32", base_bytes);
    {
        bool any = false;
        for (const auto& s : selected_steps(rec, find_layers(base)))
            any |= s.has_value();
        if (!any)
            fail(status::invalid_argument,
                 fmt::format("recipe '{}': selects no layer of '{}' (see hone inspect)", rec.name,
                             o.model.string()));
    }
    const auto data_opts = options_of(o.data, model_sample_shape(base));
    // The slice file names evaluation samples: the calibration data is read without it.
    auto calib_opts = data_opts;
    calib_opts.slices_file.clear();
    const auto calib = o.calib_data ? load_memory(*o.calib_data, "calib", calib_opts)
                                    : load_data(o.calib, calib_opts);
    const auto eval =
        o.eval_data ? load_memory(*o.eval_data, "eval", data_opts) : load_data(o.eval, data_opts);
    const bool language_model = takes_tokens(base);
    check_data_kind(base, calib);
    check_data_kind(base, eval);
    if (language_model && (rec.search || rec.budget))
        fail(status::unsupported,
             fmt::format("recipe '{}': an accuracy search or precision budget on a language "
                         "model is not supported yet (their trials rank by top-1 class)",
                         rec.name));
    check_trainable(rec, base);
    std::optional<loaded_data> own_tune;
    const loaded_data* tune =
        rec.finetune ? &finetune_data(rec, calib, data_opts, own_tune) : nullptr;
    // Without labels the validator takes the baseline's top-1 answers as the labels: accuracy is
    // then agreement with the baseline (docs/cli.md).
    if (!language_model && evaluation_of(eval).labels.empty())
        note(c, fmt::format("note: the evaluation data '{}' has no labels: accuracy is top-1 "
                            "agreement with the baseline",
                            eval.spec));
    // A first batch through the model: a shape that does not fit fails here, before any record.
    own_baseline.run(evaluation_of(eval).inputs.slice(0, 0, 1));
    {
        // Every input is good: the ledger's folder may be made now.
        std::error_code ec;
        if (!o.ledger.parent_path().empty()) fs::create_directories(o.ledger.parent_path(), ec);
        ledger l(o.ledger);
        const auto v = l.verify();
        if (!v.ok)
            fail(status::verification_failed,
                 fmt::format("ledger '{}' does not verify (line {}: {}); nothing was written",
                             o.ledger.string(), v.first_bad, v.problem));
    }

    // 1. The baseline, measured and recorded first (by the engine when it gives its runners).
    std::unique_ptr<runner> engine_baseline;
    if (o.engine)
        engine_baseline = engine_runner_for(o.engine, "baseline", serialize_onnx(base, false),
                                            base_bytes, own_baseline.work_per_sample());
    runner& baseline = engine_baseline ? *engine_baseline : own_baseline;
    json base_metrics;
    std::string base_text;
    if (language_model) {
        const auto f = next_token_baseline(baseline, eval, "baseline perplexity", c);
        base_metrics = {{"perplexity", f.perplexity},
                        {"next_token_accuracy", f.accuracy},
                        {"model_bytes", base_bytes},
                        {"sequences", eval.data.size()},
                        {"tokens", f.tokens}};
        base_text = fmt::format("perplexity {:.4f}, next-token accuracy {:.2f}% on {} sequences "
                                "({} tokens)",
                                f.perplexity, 100 * f.accuracy, eval.data.size(), f.tokens);
    } else {
        const double base_acc = top1(baseline, eval, "baseline accuracy", c);
        base_metrics = {
            {"accuracy", base_acc}, {"model_bytes", base_bytes}, {"samples", eval.data.size()}};
        base_text = fmt::format("{} on {} samples",
                                std::isnan(base_acc) ? std::string("no labels")
                                                     : fmt::format("top-1 {:.2f}%", 100 * base_acc),
                                eval.data.size());
    }
    const auto data_text = json{{"calibration", json::parse(data_json(calib, calib_opts))},
                                {"evaluation", json::parse(data_json(eval, data_opts))}}
                               .dump();
    ledger l(o.ledger);
    const auto base_entry =
        record_baseline(l, o.actor, key ? &*key : nullptr, o.model, base_metrics.dump(),
                        json::parse(data_json(eval, data_opts)).dump());
    note(c, fmt::format("baseline: {}, {} (ledger record {})", base_text,
                        format_bytes(double(base_bytes)), base_entry.seq));

    // 2. Calibrate and apply the recipe layer by layer; with an accuracy search, the layers it
    // keeps are excluded or overridden in the recipe (so the recorded recipe reproduces it).
    // The recipe recorded is the one built (its search or budget settled, the parameters with
    // the result), so it rebuilds this candidate as it is.
    auto chosen = rec;
    chosen.search.reset();
    json search_j = nullptr, budget_j = nullptr;
    if (rec.budget)
        std::tie(chosen, budget_j) =
            run_budget(base, own_baseline, rec, calib, data_opts, format, paths.onnx.string(), c);
    if (rec.search) {
        const auto found =
            run_search(base, own_baseline, rec, calib, data_opts, format, paths.onnx.string(), c);
        keep_layers(chosen, found.kept, rec.search->keep_bits);
        search_j = found.to_json();
        search_j["params"] = rec.search->to_json();
        std::string kept;
        for (const auto& k : found.kept)
            kept += (kept.empty() ? "" : ", ") + k;
        note(c, fmt::format(
                    "accuracy search: {} trials; {} layer(s) kept {}{}; the bound {} "
                    "on the ranking data",
                    found.trials.size(), found.kept.size(), kept_precision(rec.search->keep_bits),
                    kept.empty() ? "" : " (" + kept + ")", found.met ? "holds" : "was not met"));
    }
    auto cb = build_candidate(base, chosen, calib, tune, data_opts, c);

    // 3. The deployable file, read back: what is validated is what ships.
    const auto shipped = ship(cb, format, paths.onnx.string());
    sized_runner own_cand(*shipped.m, *shipped.exec, "candidate " + rec.name, shipped.bytes);
    cb.packed = layer_paths(cb, own_cand.plan());
    const auto errors =
        layer_errors(base, cb, *shipped.m, *shipped.exec, evaluation_of(calib).inputs, c);
    std::unique_ptr<runner> engine_cand;
    if (o.engine)
        engine_cand = engine_runner_for(o.engine, "candidate", shipped.file->bytes, shipped.bytes,
                                        own_cand.work_per_sample());
    runner& cand = engine_cand ? *engine_cand : own_cand;

    // 4. Validate baseline vs candidate.
    const auto ev = evaluation_of(eval);
    auto vopts = opts;
    auto report = validate(baseline, cand, ev, vopts);
    const auto dec = decide(pol, report.comparison);

    // 5. The artifact, written atomically: the deployable ONNX, or (--format hone) the
    // candidate ONNX and hone's packed weights.
    std::error_code ec;
    fs::create_directories(
        paths.onnx.parent_path().empty() ? fs::path(".") : paths.onnx.parent_path(), ec);
    std::vector<fs::path> artifacts{paths.onnx};
    if (shipped.file) {
        write_file_atomic(paths.onnx, shipped.file->bytes);
    } else {
        const auto onnx_bytes = serialize_onnx(cb.m);
        const auto st_bytes = packed_safetensors(cb);
        write_file_atomic(paths.safetensors, st_bytes);
        write_file_atomic(paths.onnx, onnx_bytes);
        artifacts.push_back(paths.safetensors);
    }

    // 6. Record, report, exit code.
    conclusion cl;
    cl.model = o.model.string();
    cl.recipe_name = rec.name;
    json recipe_j = chosen.to_json();
    if (rec.search) recipe_j["search_result"] = search_j;
    if (rec.budget) recipe_j["budget_result"] = budget_j;
    recipe_j["activation_ranges"] =
        ranges_json(shipped.file ? cb.grids : cb.exec.activation_ranges);
    recipe_j["execution_paths"] = json::array();
    if (o.engine)
        recipe_j["validated_by"] = {{"baseline", baseline.name()}, {"candidate", cand.name()}};
    for (const auto& nr : own_cand.plan().report())
        recipe_j["execution_paths"].push_back({{"node", nr.node}, {"path", nr.path}});
    recipe_j["layer_paths"] = cb.packed;
    recipe_j["format"] = name_of(format);
    recipe_j["artifact"] = shipped.form;
    if (rec.finetune) recipe_j["finetune"] = cb.finetune;
    if (rec.smooth_quant) recipe_j["smooth_quant_result"] = cb.smoothing;
    if (!cb.awq.is_null()) recipe_j["awq_result"] = cb.awq;
    if (!cb.kv_cache.is_null()) recipe_j["kv_cache_result"] = cb.kv_cache;
    cl.recipe = recipe_j.dump();
    cl.validation = std::move(report);
    cl.policy = pol;
    cl.decision = dec;
    cl.artifacts = artifacts;
    cl.ledger = o.ledger;
    cl.actor = o.actor;
    cl.key = key ? &*key : nullptr;
    cl.data = data_text;
    cl.baseline_seq = base_entry.seq;
    cl.report_dir = o.report;
    cl.layers = errors;
    cl.search = search_j;
    cl.budget = budget_j;
    auto out = outcome_of(cl, conclude_record(cl));
    out.artifact_form = shipped.form;
    out.artifact_bytes = shipped.bytes;
    return out;
}

// ---- validate ----------------------------------------------------------------------------

optimize_outcome validate_change(const validate_request& o, const pipeline_events&) {
    const auto pol = parse_policy_argument(o.policy);
    const auto key = load_signing_key(o.key);
    if (!o.report.empty()) check_writable_dir(o.report, "--report");
    const auto opts = options_of(o.validation);
    model b = load_onnx(o.baseline);
    model k = load_onnx(o.candidate);
    const auto data_opts = options_of(o.data, model_sample_shape(b));
    const auto eval =
        o.eval_data ? load_memory(*o.eval_data, "eval", data_opts) : load_data(o.eval, data_opts);
    check_data_kind(b, eval);
    if (!o.ledger.empty()) {
        ledger l(o.ledger);
        const auto v = l.verify();
        if (!v.ok)
            fail(status::verification_failed,
                 fmt::format("ledger '{}' does not verify (line {}: {}); nothing was written",
                             o.ledger.string(), v.first_bad, v.problem));
    }
    const auto bo = run_options_of(b, o.baseline), ko = run_options_of(k, o.candidate);
    sized_runner br(b, bo, "baseline", fs::file_size(o.baseline));
    sized_runner kr(k, ko, "candidate", fs::file_size(o.candidate));
    std::unique_ptr<runner> engine_b, engine_k;
    if (o.engine) {
        for (const auto* f : {&o.baseline, &o.candidate}) {
            const auto& fo = f == &o.baseline ? bo : ko;
            if (!fo.int4_weights.empty() || !fo.palettized_weights.empty())
                fail(status::invalid_argument,
                     fmt::format("'{}' runs on hone's packed weights (--format hone): an engine's "
                                 "runner would run its f32 graph instead; give a qdq or "
                                 "matmulnbits file",
                                 f->string()));
        }
        engine_b = engine_runner_for(o.engine, "baseline", read_file(o.baseline),
                                     fs::file_size(o.baseline), br.work_per_sample());
        engine_k = engine_runner_for(o.engine, "candidate", read_file(o.candidate),
                                     fs::file_size(o.candidate), kr.work_per_sample());
    }
    auto report =
        validate(engine_b ? *engine_b : static_cast<runner&>(br),
                 engine_k ? *engine_k : static_cast<runner&>(kr), evaluation_of(eval), opts);
    conclusion cl;
    cl.model = o.baseline.string();
    cl.recipe_name = o.candidate.filename().string();
    cl.decision = decide(pol, report.comparison);
    cl.validation = std::move(report);
    cl.policy = pol;
    cl.artifacts = {o.candidate};
    cl.ledger = o.ledger;
    cl.actor = o.actor;
    cl.key = key ? &*key : nullptr;
    cl.data = data_json(eval, data_opts);
    cl.report_dir = o.report;
    return outcome_of(cl, conclude_record(cl));
}

// ---- sweep -------------------------------------------------------------------------------

sweep_outcome sweep(const sweep_request& o, const pipeline_events& c) {
    std::vector<recipe> recipes;
    for (const auto& r : o.recipes)
        recipes.push_back(load_recipe(r));
    const auto format = parse_artifact_format(o.format);
    const auto pol = parse_policy_argument(o.policy);
    if (!o.report.empty()) check_writable_dir(o.report, "--report");
    if (!o.out_dir.empty()) check_writable_dir(o.out_dir, "--out-dir");
    const auto opts = options_of(o.validation);
    model base = load_model(o.model);
    const auto data_opts = options_of(o.data, model_sample_shape(base));
    auto calib_opts = data_opts; // the slice file names evaluation samples
    calib_opts.slices_file.clear();
    const auto calib = load_data(o.calib, calib_opts);
    const auto eval = load_data(o.eval, data_opts);
    const auto base_bytes = onnx_file_bytes(base);
    sized_runner baseline(base, {}, "baseline f32", base_bytes);
    std::vector<candidate_point> points;
    std::optional<conclusion> best;
    double best_acc = -1;
    std::deque<std::optional<loaded_data>> own_tunes;
    std::vector<const loaded_data*> tunes;
    for (const auto& rec : recipes) {
        check_trainable(rec, base);
        own_tunes.emplace_back();
        tunes.push_back(rec.finetune ? &finetune_data(rec, calib, data_opts, own_tunes.back())
                                     : nullptr);
    }
    for (std::size_t ri = 0; ri < recipes.size(); ++ri) {
        const auto& rec = recipes[ri];
        auto cb = build_candidate(base, rec, calib, tunes[ri], data_opts, c);
        const auto shipped = ship(cb, format, rec.name);
        sized_runner cand(*shipped.m, *shipped.exec, "candidate " + rec.name, shipped.bytes);
        cb.packed = layer_paths(cb, cand.plan());
        auto report = validate(baseline, cand, evaluation_of(eval), opts);
        const auto dec = decide(pol, report.comparison);
        if (points.empty()) {
            candidate_point b;
            b.name = "baseline";
            b.accuracy = report.baseline.accuracy;
            b.model_bytes = base_bytes;
            if (!report.latency.empty()) b.latency_ms = report.latency.back().baseline.p50_ms;
            b.baseline = true;
            points.push_back(b);
        }
        candidate_point p;
        p.name = rec.name;
        p.accuracy = report.candidate.accuracy;
        p.model_bytes = shipped.bytes;
        if (!report.latency.empty()) p.latency_ms = report.latency.back().candidate.p50_ms;
        p.verdict = std::string(name_of(dec.verdict));
        points.push_back(p);
        if (!o.out_dir.empty()) {
            std::error_code ec;
            fs::create_directories(o.out_dir, ec);
            std::string file = rec.name;
            std::replace(file.begin(), file.end(), ':', '_');
            if (shipped.file) {
                write_file_atomic(o.out_dir / (file + ".onnx"), shipped.file->bytes);
            } else {
                write_file_atomic(o.out_dir / (file + ".onnx"), serialize_onnx(cb.m));
                write_file_atomic(o.out_dir / (file + ".safetensors"), packed_safetensors(cb));
            }
        }
        const double score = dec.verdict == verdict::rejected ? -1 + p.accuracy : p.accuracy;
        if (!best || score > best_acc) {
            best_acc = score;
            best.emplace();
            best->model = o.model.string();
            best->recipe_name = rec.name;
            json rj = rec.to_json();
            rj["layer_paths"] = cb.packed;
            if (rec.finetune) rj["finetune"] = cb.finetune;
            best->recipe = rj.dump();
            best->validation = std::move(report);
            best->policy = pol;
            best->decision = dec;
            best->layers =
                layer_errors(base, cb, *shipped.m, *shipped.exec, evaluation_of(calib).inputs, c);
        }
    }
    best->candidates = points;
    best->report_dir = o.report;
    best->recipe_name = "sweep (best: " + best->recipe_name + ")";
    sweep_outcome out;
    for (const auto& p : points)
        out.rows.push_back(
            {p.name, p.accuracy, p.model_bytes, p.latency_ms, p.baseline ? "baseline" : p.verdict});
    out.best = outcome_of(*best, conclude_record(*best));
    return out;
}

} // namespace hone
