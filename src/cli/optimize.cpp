// optimize.cpp — `hone inspect`, and the shells of `optimize`, `validate` and `sweep` over the
// library's flow (hone/pipeline/optimize.hpp).
#include "optimize.hpp"

#include "exit_codes.hpp"
#include "layers.hpp"

#include <hone/core/error.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/model/model.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <map>

namespace hone::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ---- inspect -----------------------------------------------------------------------------

int run_inspect(const inspect_options& o, console& c) {
    model m = load_onnx(o.model);
    const model as_optimized = load_model(o.model); // the layers hone optimize finds
    std::map<std::string, int> ops;
    for (const auto& nd : m.nodes)
        ops[(nd.domain.empty() ? "" : nd.domain + ".") + nd.op_type]++;
    json weights = json::array();
    for (const auto& name : m.weight_names()) {
        const auto& w = m.weight(name);
        weights.push_back({{"name", name},
                           {"dtype", std::string(name_of(w.type()))},
                           {"shape", dims_json(w.dims())},
                           {"bytes", w.nbytes()}});
    }
    json layers = json::array();
    for (const auto& l : find_layers(as_optimized))
        layers.push_back({{"name", l.name},
                          {"op", l.op},
                          {"weight", l.weight},
                          {"n", l.n},
                          {"k", l.k},
                          {"bytes", as_optimized.weight(l.weight).nbytes()},
                          // Conv weights hold no K groups: per-group recipes quantize them
                          // 8-bit per channel.
                          {"int4_group", l.is_conv() ? json(nullptr) : json(group_for(128, l.k))},
                          {"two_four", l.k % 4 == 0}});
    json run = {{"ok", true}};
    try {
        executor e(m);
        json paths = json::array();
        for (const auto& r : e.report())
            paths.push_back({{"node", r.node}, {"op", r.op_type}, {"path", r.path}});
        run["paths"] = paths;
        executor_options i8;
        i8.precision = exec_precision::int8_dynamic;
        executor e8(m, i8);
        run["int8_layers"] = json::array();
        for (const auto& r : e8.report())
            if (r.path.find("int8") != std::string::npos) run["int8_layers"].push_back(r.node);
    } catch (const error& e) {
        run = {{"ok", false}, {"problem", e.what()}};
    }
    json inputs = json::array(), outputs = json::array();
    const auto vi = [](const value_info& v) {
        json d = json::array();
        for (const auto& x : v.dims)
            d.push_back(x.is_static() ? json(x.size) : json(x.param.empty() ? "?" : x.param));
        return json{{"name", v.name}, {"dtype", std::string(name_of(v.type))}, {"shape", d}};
    };
    for (const auto& v : m.inputs)
        inputs.push_back(vi(v));
    for (const auto& v : m.outputs)
        outputs.push_back(vi(v));
    json j{{"model", o.model.string()},
           {"opset", m.opset},
           {"nodes", m.nodes.size()},
           {"ops", ops},
           {"inputs", inputs},
           {"outputs", outputs},
           {"weights", weights},
           {"weight_bytes", m.weight_bytes()},
           {"file_bytes", fs::file_size(o.model)},
           {"optimizable_layers", layers},
           {"executor", run}};
    if (c.json) {
        print_json(c.out, j);
        return exit_ok;
    }
    auto& out = c.out;
    out << fmt::format("{}: opset {}, {} nodes, {} weights ({}), file {}\n", o.model.string(),
                       m.opset, m.nodes.size(), m.weight_count(),
                       format_bytes(double(m.weight_bytes())),
                       format_bytes(double(fs::file_size(o.model))));
    for (const auto& v : inputs)
        out << fmt::format("input  {} {} {}\n", v["name"].get<std::string>(),
                           v["dtype"].get<std::string>(), v["shape"].dump());
    for (const auto& v : outputs)
        out << fmt::format("output {} {} {}\n", v["name"].get<std::string>(),
                           v["dtype"].get<std::string>(), v["shape"].dump());
    out << "ops:";
    for (const auto& [k, v] : ops)
        out << fmt::format(" {}×{}", k, v);
    out << "\nweights:\n";
    for (const auto& w : weights)
        out << fmt::format("  {:<32} {:<4} {:<14} {:>10}\n", w["name"].get<std::string>(),
                           w["dtype"].get<std::string>(), w["shape"].dump(),
                           format_bytes(w["bytes"].get<double>()));
    out << fmt::format("layers hone optimizes ({}):\n", layers.size());
    for (const auto& l : layers)
        out << fmt::format("  {:<20} {:<6} [{}x{}] {:>10}  {}{}\n", l["name"].get<std::string>(),
                           l["op"].get<std::string>(), l["n"].get<std::int64_t>(),
                           l["k"].get<std::int64_t>(), format_bytes(l["bytes"].get<double>()),
                           l["int4_group"].is_null()
                               ? std::string("int4 recipes: 8-bit per channel")
                               : fmt::format("int4 group {}", l["int4_group"].get<std::int64_t>()),
                           l["two_four"].get<bool>() ? ", 2:4 ok" : "");
    if (run["ok"].get<bool>()) {
        out << "executor: runs every node\n";
        for (const auto& p : run["paths"])
            out << fmt::format("  {:<20} {:<20} {}\n", p["node"].get<std::string>(),
                               p["op"].get<std::string>(), p["path"].get<std::string>());
        out << fmt::format("  int8-capable layers: {}\n", run["int8_layers"].dump());
    } else {
        out << "executor: cannot run this model: " << run["problem"].get<std::string>() << '\n';
    }
    return exit_ok;
}

// ---- optimize, validate, sweep -----------------------------------------------------------

int run_optimize(const optimize_options& o, console& c) {
    optimize_request r;
    r.model = o.model;
    r.recipe = o.recipe;
    r.calib = o.calib;
    r.eval = o.eval;
    r.policy = o.policy;
    r.out = o.out;
    r.format = o.format;
    r.ledger = o.ledger;
    r.report = o.report;
    r.actor = o.actor;
    r.key = o.key;
    r.data = o.data;
    r.validation = o.validation;
    r.tolerable_drop = o.tolerable_drop;
    r.relative_drop = o.relative_drop;
    r.target_bits_per_weight = o.target_bpw;
    r.target_file_bytes = o.target_bytes;
    console_events ev(c);
    const auto out = hone::optimize(r, ev.events());
    print_outcome(out, o.ledger, o.report, c);
    if (!c.json) {
        std::string rest;
        for (std::size_t i = 1; i < out.artifacts.size(); ++i)
            rest += " + " + out.artifacts[i].string();
        c.out << fmt::format("artifact {} ({}, {}){}\n", out.artifacts.front().string(),
                             out.artifact_form, format_bytes(double(out.artifact_bytes)), rest);
    }
    return exit_code_for(out.decision.verdict);
}

int run_validate(const validate_options& o, console& c) {
    validate_request r;
    r.baseline = o.baseline;
    r.candidate = o.candidate;
    r.eval = o.eval;
    r.policy = o.policy;
    r.ledger = o.ledger;
    r.report = o.report;
    r.actor = o.actor;
    r.key = o.key;
    r.data = o.data;
    r.validation = o.validation;
    console_events ev(c);
    const auto out = validate_change(r, ev.events());
    print_outcome(out, o.ledger, o.report, c);
    return exit_code_for(out.decision.verdict);
}

int run_sweep(const sweep_options& o, console& c) {
    sweep_request r;
    r.model = o.model;
    r.recipes = o.recipes;
    r.calib = o.calib;
    r.eval = o.eval;
    r.policy = o.policy;
    r.out_dir = o.out_dir;
    r.format = o.format;
    r.report = o.report;
    r.data = o.data;
    r.validation = o.validation;
    console_events ev(c);
    const auto out = sweep(r, ev.events());
    if (!c.json) {
        c.out << fmt::format("{:<14} {:>10} {:>12} {:>14}  {}\n", "recipe", "top-1", "size",
                             "p50 (ms)", "verdict");
        for (const auto& p : out.rows)
            c.out << fmt::format("{:<14} {:>9.2f}% {:>12} {:>14}  {}\n", p.recipe, 100 * p.accuracy,
                                 format_bytes(double(p.model_bytes)),
                                 p.latency_ms ? fmt::format("{:.3f}", *p.latency_ms) : "-",
                                 p.verdict);
        c.out << '\n';
    }
    print_outcome(out.best, {}, o.report, c);
    return exit_code_for(out.best.decision.verdict);
}

main_job_handlers main_job_handlers_all() {
    main_job_handlers h;
    h.inspect = run_inspect;
    h.optimize = run_optimize;
    h.validate = run_validate;
    h.sweep = run_sweep;
    return h;
}

} // namespace hone::cli
