#include <hone/pipeline/recipe.hpp>

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace hone::pipeline {

using json = nlohmann::json;

bool glob_match(std::string_view p, std::string_view t) {
    // Iterative matcher with backtracking to the last '*'.
    std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
    while (ti < t.size()) {
        if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
            ++pi;
            ++ti;
        } else if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = ti;
        } else if (star != std::string_view::npos) {
            pi = star + 1;
            ti = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*')
        ++pi;
    return pi == p.size();
}

namespace {

// A method's JSON name and value.
template <class E> struct named {
    const char* name;
    E value;
};
constexpr named<prune_method> prune_names[] = {{"sparsegpt", prune_method::sparsegpt},
                                               {"wanda", prune_method::wanda},
                                               {"magnitude", prune_method::magnitude}};
constexpr named<kmeans_method> kmeans_names[] = {{"optimal", kmeans_method::optimal},
                                                 {"lloyd", kmeans_method::lloyd},
                                                 {"auto", kmeans_method::automatic}};
constexpr named<quant_granularity> granularity_names[] = {
    {"per_channel", quant_granularity::per_channel},
    {"per_group", quant_granularity::per_group},
    {"per_tensor", quant_granularity::per_tensor}};
constexpr named<weight_method> weight_names[] = {{"rtn", weight_method::rtn},
                                                 {"clip_search", weight_method::clip_search},
                                                 {"gptq", weight_method::gptq},
                                                 {"awq", weight_method::awq}};
constexpr named<optimizer_kind> optimizer_names[] = {{"sgd", optimizer_kind::sgd},
                                                     {"adamw", optimizer_kind::adamw}};
constexpr named<lr_schedule> schedule_names[] = {{"constant", lr_schedule::constant},
                                                 {"cosine", lr_schedule::cosine},
                                                 {"step", lr_schedule::step}};
constexpr named<loss_kind> loss_names[] = {{"ce", loss_kind::cross_entropy},
                                           {"distill", loss_kind::distillation}};
constexpr named<schedule_kind> sparsity_schedule_names[] = {
    {"polynomial", schedule_kind::polynomial}, {"constant", schedule_kind::constant}};
constexpr named<calib_method> calib_names[] = {{"auto", calib_method::auto_select},
                                               {"min_max", calib_method::min_max},
                                               {"percentile", calib_method::percentile},
                                               {"entropy", calib_method::entropy},
                                               {"mse", calib_method::mse}};

template <class E, std::size_t N> std::string_view name_in(const named<E> (&table)[N], E v) {
    for (const auto& n : table)
        if (n.value == v) return n.name;
    return "unknown";
}

// The value named `name`, or nullopt; `expected` lists the names ("a, b or c").
template <class E, std::size_t N>
std::optional<E> value_in(const named<E> (&table)[N], std::string_view name,
                          std::string& expected) {
    expected.clear();
    for (std::size_t i = 0; i < N; ++i)
        expected += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(table[i].name);
    for (const auto& n : table)
        if (name == n.name) return n.value;
    return std::nullopt;
}

} // namespace

std::string_view name_of(prune_method m) { return name_in(prune_names, m); }
std::string_view name_of(kmeans_method m) { return name_in(kmeans_names, m); }
std::string_view name_of(quant_granularity g) { return name_in(granularity_names, g); }
std::string_view name_of(weight_method m) { return name_in(weight_names, m); }
std::string_view name_of(calib_method m) { return name_in(calib_names, m); }
std::string_view name_of(optimizer_kind k) { return name_in(optimizer_names, k); }
std::string_view name_of(lr_schedule s) { return name_in(schedule_names, s); }
std::string_view name_of(loss_kind k) { return name_in(loss_names, k); }

nlohmann::json smoothing::to_json() const {
    return {{"alpha", alpha ? json(*alpha) : json("search")}};
}

bool recipe::needs_layer_inputs() const {
    const auto needs = [](const recipe_step& s) {
        return (s.what == recipe_step::kind::prune && s.pruning != prune_method::magnitude) ||
               (s.what == recipe_step::kind::quantize && s.quantizing == weight_method::gptq);
    };
    if (std::any_of(steps.begin(), steps.end(), needs)) return true;
    for (const auto& o : overrides) {
        if (std::any_of(o.steps.begin(), o.steps.end(), needs)) return true;
        const auto params = o.step_params.dump();
        for (const char* method : {"gptq", "sparsegpt", "wanda"})
            if (params.find(method) != std::string::npos) return true;
    }
    return false;
}

namespace {

[[noreturn]] void bad(std::string_view source, const std::string& what) {
    fail(status::invalid_argument, fmt::format("recipe '{}': {}", source, what));
}

template <class T>
T get(const json& j, const char* key, T fallback, std::string_view source, std::string_view where) {
    if (!j.contains(key)) return fallback;
    try {
        return j.at(key).get<T>();
    } catch (const json::exception&) {
        bad(source, fmt::format("{}.{} has the wrong type ({})", where, key, j.at(key).dump()));
    }
}

// Reads j[key] as one of `table`'s names into `out` (unchanged when absent).
template <class E, std::size_t N>
void get_named(const json& j, const char* key, const named<E> (&table)[N], E& out,
               std::string_view source, std::string_view where) {
    if (!j.contains(key)) return;
    const auto name = get<std::string>(j, key, std::string(), source, where);
    std::string expected;
    const auto v = value_in(table, name, expected);
    if (!v) bad(source, fmt::format("{}.{} '{}': expected {}", where, key, name, expected));
    out = *v;
}

bool is_layer_op(const std::string& op) {
    return op == "Gemm" || op == "MatMul" || op == "Conv" || op == "ConvTranspose";
}

void apply_params(recipe_step& s, const json& j, std::string_view source, std::string_view where) {
    if (!j.is_object()) bad(source, fmt::format("{} must be an object", where));
    static const std::vector<std::string> known = {
        "kind", "method",      "sparsity",   "n",        "m",         "clusters",
        "bits", "granularity", "group_size", "op_types", "act_order",
    };
    for (const auto& [k, v] : j.items())
        if (std::find(known.begin(), known.end(), k) == known.end())
            bad(source, fmt::format("{}: unknown field '{}'", where, k));
    s.op_types = get<std::vector<std::string>>(j, "op_types", s.op_types, source, where);
    for (const auto& op : s.op_types)
        if (!is_layer_op(op))
            bad(source, fmt::format("{}.op_types: '{}' is not an op hone optimizes (Gemm, MatMul, "
                                    "Conv, ConvTranspose)",
                                    where, op));
    switch (s.what) {
    case recipe_step::kind::prune:
        get_named(j, "method", prune_names, s.pruning, source, where);
        s.sparsity = get<double>(j, "sparsity", s.sparsity, source, where);
        s.n = get<int>(j, "n", s.n, source, where);
        s.m = get<int>(j, "m", s.m, source, where);
        if (s.n > 0 ? !(s.n < s.m && s.m <= 32) : !(s.sparsity >= 0 && s.sparsity < 1))
            bad(source,
                fmt::format("{}: sparsity must be in [0, 1) and N:M 1 <= N < M <= 32", where));
        break;
    case recipe_step::kind::cluster:
        s.clusters = get<int>(j, "clusters", s.clusters, source, where);
        get_named(j, "method", kmeans_names, s.clustering, source, where);
        if (s.clusters < 2 || s.clusters > 256)
            bad(source, fmt::format("{}.clusters must be 2…256, got {}", where, s.clusters));
        break;
    case recipe_step::kind::quantize:
        s.bits = get<int>(j, "bits", s.bits, source, where);
        get_named(j, "granularity", granularity_names, s.granularity, source, where);
        s.group_size = get<std::int64_t>(j, "group_size", s.group_size, source, where);
        get_named(j, "method", weight_names, s.quantizing, source, where);
        s.act_order = get<bool>(j, "act_order", s.act_order, source, where);
        if (s.act_order && s.quantizing != weight_method::gptq)
            bad(source,
                fmt::format("{}.act_order orders GPTQ's columns: it needs method gptq", where));
        if (s.bits < 2 || s.bits > 8)
            bad(source, fmt::format("{}.bits must be 2…8, got {}", where, s.bits));
        if (s.group_size < 1) bad(source, fmt::format("{}.group_size must be >= 1", where));
        break;
    }
}

} // namespace

trainer_config finetune_params::config(std::string_view where) const {
    const auto bad_field = [&](const char* field, const std::string& what) {
        fail(status::invalid_argument, fmt::format("{}{}: {}", where, field, what));
    };
    trainer_config c;
    if (epochs < 1 || epochs > 1000)
        bad_field("epochs", fmt::format("must be 1…1000, got {}", epochs));
    c.epochs = epochs;
    if (batch < 1) bad_field("batch", fmt::format("must be at least 1, got {}", batch));
    c.batch_size = batch;
    // Enums cast from integers (the C ABI, bindings) may hold anything: named ones only.
    if (name_of(optimizer) == "unknown")
        bad_field("optimizer", fmt::format("{} is not sgd or adamw", int(optimizer)));
    c.optimizer = optimizer;
    if (!(std::isfinite(lr) && lr > 0))
        bad_field("lr", fmt::format("must be a positive number, got {}", lr));
    c.learning_rate = float(lr);
    if (name_of(schedule) == "unknown")
        bad_field("schedule", fmt::format("{} is not constant, cosine or step", int(schedule)));
    c.schedule = schedule;
    if (!(std::isfinite(weight_decay) && weight_decay >= 0))
        bad_field("weight_decay", fmt::format("must be >= 0, got {}", weight_decay));
    c.weight_decay = float(weight_decay);
    if (name_of(loss) == "unknown")
        bad_field("loss", fmt::format("{} is not ce or distill", int(loss)));
    c.loss = loss;
    if (!(std::isfinite(temperature) && temperature > 0))
        bad_field("temperature", fmt::format("must be positive, got {}", temperature));
    c.temperature = float(temperature);
    if (!(alpha >= 0 && alpha <= 1))
        bad_field("alpha", fmt::format("must be in [0, 1], got {}", alpha));
    c.distill_alpha = float(alpha);
    if (!(std::isfinite(cluster_lr_scale) && cluster_lr_scale > 0))
        bad_field("cluster_lr_scale", fmt::format("must be positive, got {}", cluster_lr_scale));
    c.cluster_lr_scale = float(cluster_lr_scale);
    c.seed = seed;
    if (prune) {
        const auto& s = *prune;
        const bool poly = s.kind == schedule_kind::polynomial;
        if (name_in(sparsity_schedule_names, s.kind) == "unknown")
            bad_field("prune.kind", fmt::format("{} is not polynomial or constant", int(s.kind)));
        if (!(s.final_sparsity > 0 && s.final_sparsity < 1))
            bad_field("prune.final_sparsity",
                      fmt::format("must be in (0, 1), got {}", s.final_sparsity));
        if (poly && !(s.initial_sparsity >= 0 && s.initial_sparsity <= s.final_sparsity))
            bad_field("prune.initial_sparsity",
                      fmt::format("must be in [0, final_sparsity {}], got {}", s.final_sparsity,
                                  s.initial_sparsity));
        if (s.begin_step < 0)
            bad_field("prune.begin_step", fmt::format("must be >= 0, got {}", s.begin_step));
        if (s.frequency < 1)
            bad_field("prune.frequency", fmt::format("must be >= 1, got {}", s.frequency));
        if (poly && s.end_step <= s.begin_step)
            bad_field("prune.end_step",
                      fmt::format("must be after begin_step {}, got {}", s.begin_step, s.end_step));
        if (poly && (s.end_step - s.begin_step) % s.frequency != 0)
            bad_field("prune.end_step",
                      fmt::format("{} must be begin_step {} + a multiple of frequency {} (a "
                                  "pruning step: final_sparsity is reached there)",
                                  s.end_step, s.begin_step, s.frequency));
        if (!poly && s.end_step != -1 && s.end_step < s.begin_step)
            bad_field("prune.end_step", fmt::format("must be -1 (none) or >= begin_step {}, got {}",
                                                    s.begin_step, s.end_step));
        if (poly && !(std::isfinite(s.power) && s.power > 0))
            bad_field("prune.power", fmt::format("must be positive, got {}", s.power));
        const auto& g = prune_scope;
        const double first = poly ? s.initial_sparsity : s.final_sparsity;
        if (g.global && !(g.min_layer_sparsity >= 0 && g.min_layer_sparsity <= first))
            bad_field("prune.min_layer_sparsity",
                      fmt::format("must be in [0, {}] (the schedule's first sparsity), got {}",
                                  first, g.min_layer_sparsity));
        if (g.global && !(g.max_layer_sparsity >= s.final_sparsity && g.max_layer_sparsity < 1))
            bad_field("prune.max_layer_sparsity",
                      fmt::format("must be in [final_sparsity {}, 1), got {}", s.final_sparsity,
                                  g.max_layer_sparsity));
    }
    return c;
}

json finetune_params::to_json() const {
    json j{{"kind", "finetune"},
           {"epochs", epochs},
           {"batch", batch},
           {"optimizer", name_of(optimizer)},
           {"lr", lr},
           {"schedule", name_of(schedule)},
           {"weight_decay", weight_decay},
           {"loss", name_of(loss)},
           {"seed", seed},
           {"cluster_lr_scale", cluster_lr_scale},
           {"data", data.empty() ? json("calibration") : json(data)}};
    if (loss == loss_kind::distillation) {
        j["temperature"] = temperature;
        j["alpha"] = alpha;
    }
    if (prune) {
        const auto& s = *prune;
        json& p = j["prune"] = {{"kind", name_in(sparsity_schedule_names, s.kind)},
                                {"final_sparsity", s.final_sparsity},
                                {"begin_step", s.begin_step},
                                {"end_step", s.end_step},
                                {"frequency", s.frequency},
                                {"global", prune_scope.global}};
        if (s.kind == schedule_kind::polynomial) {
            p["initial_sparsity"] = s.initial_sparsity;
            p["power"] = s.power;
        }
        if (prune_scope.global) {
            p["min_layer_sparsity"] = prune_scope.min_layer_sparsity;
            p["max_layer_sparsity"] = prune_scope.max_layer_sparsity;
        }
    }
    return j;
}

namespace {

// A finetune step's "prune" member (`where` names it) into p.prune and p.prune_scope; the values
// are checked by finetune_params::config.
void parse_prune_schedule(finetune_params& p, const json& j, std::string_view source,
                          const std::string& where) {
    if (!j.is_object()) bad(source, fmt::format("{} must be an object", where));
    static const std::vector<std::string> known = {
        "kind",
        "initial_sparsity",
        "final_sparsity",
        "begin_step",
        "end_step",
        "frequency",
        "power",
        "global",
        "min_layer_sparsity",
        "max_layer_sparsity",
    };
    for (const auto& [k, v] : j.items())
        if (std::find(known.begin(), known.end(), k) == known.end())
            bad(source, fmt::format("{}: unknown field '{}'", where, k));
    sparsity_schedule s;
    get_named(j, "kind", sparsity_schedule_names, s.kind, source, where);
    const bool poly = s.kind == schedule_kind::polynomial;
    if (!j.contains("final_sparsity"))
        bad(source, fmt::format("{}.final_sparsity is required", where));
    if (poly && !j.contains("end_step"))
        bad(source,
            fmt::format("{}.end_step is required (the step final_sparsity is reached at)", where));
    for (const char* k : {"initial_sparsity", "power"})
        if (!poly && j.contains(k))
            bad(source,
                fmt::format("{}.{}: a constant schedule has none (kind polynomial has)", where, k));
    s.initial_sparsity = get<double>(j, "initial_sparsity", s.initial_sparsity, source, where);
    s.final_sparsity = get<double>(j, "final_sparsity", s.final_sparsity, source, where);
    s.begin_step = get<std::int64_t>(j, "begin_step", s.begin_step, source, where);
    s.end_step = get<std::int64_t>(j, "end_step", s.end_step, source, where);
    s.frequency = get<std::int64_t>(j, "frequency", s.frequency, source, where);
    s.power = get<double>(j, "power", s.power, source, where);
    pruning_scope g;
    g.global = get<bool>(j, "global", g.global, source, where);
    for (const char* k : {"min_layer_sparsity", "max_layer_sparsity"})
        if (!g.global && j.contains(k))
            bad(source, fmt::format("{}.{} bounds a layer under one global threshold: it needs "
                                    "global true",
                                    where, k));
    g.min_layer_sparsity =
        get<double>(j, "min_layer_sparsity", g.min_layer_sparsity, source, where);
    g.max_layer_sparsity =
        get<double>(j, "max_layer_sparsity", g.max_layer_sparsity, source, where);
    p.prune = s;
    p.prune_scope = g;
}

} // namespace

void parse_finetune(finetune_params& p, const json& j, std::string_view source,
                    std::string_view where) {
    if (!j.is_object()) bad(source, fmt::format("{} must be an object", where));
    static const std::vector<std::string> known = {
        "kind", "epochs",      "batch", "optimizer", "lr",   "schedule",         "weight_decay",
        "loss", "temperature", "alpha", "seed",      "data", "cluster_lr_scale", "prune",
    };
    for (const auto& [k, v] : j.items())
        if (std::find(known.begin(), known.end(), k) == known.end())
            bad(source, fmt::format("{}: unknown field '{}'", where, k));
    p.epochs = get<int>(j, "epochs", p.epochs, source, where);
    p.batch = get<std::int64_t>(j, "batch", p.batch, source, where);
    get_named(j, "optimizer", optimizer_names, p.optimizer, source, where);
    p.lr = get<double>(j, "lr", p.lr, source, where);
    get_named(j, "schedule", schedule_names, p.schedule, source, where);
    p.weight_decay = get<double>(j, "weight_decay", p.weight_decay, source, where);
    get_named(j, "loss", loss_names, p.loss, source, where);
    p.temperature = get<double>(j, "temperature", p.temperature, source, where);
    p.alpha = get<double>(j, "alpha", p.alpha, source, where);
    p.seed = get<std::uint64_t>(j, "seed", p.seed, source, where);
    p.cluster_lr_scale = get<double>(j, "cluster_lr_scale", p.cluster_lr_scale, source, where);
    p.data = get<std::string>(j, "data", p.data, source, where);
    if (p.data == "calibration") p.data.clear();
    if (j.contains("prune"))
        parse_prune_schedule(p, j["prune"], source, std::string(where) + ".prune");
    try {
        (void)p.config(fmt::format("recipe '{}': {}.", source, where));
    } catch (const error& e) {
        fail(status::invalid_argument, e.what());
    }
}

namespace {

recipe_step::kind kind_of(const std::string& k, std::string_view source, std::string_view where) {
    if (k == "prune") return recipe_step::kind::prune;
    if (k == "cluster") return recipe_step::kind::cluster;
    if (k == "quantize") return recipe_step::kind::quantize;
    bad(source,
        fmt::format("{}.kind '{}': expected prune, cluster or quantize{}", where, k,
                    k == "finetune" ? " (finetune is a recipe step, not a per-layer one)" : ""));
}

const char* kind_name(recipe_step::kind k) {
    switch (k) {
    case recipe_step::kind::prune: return "prune";
    case recipe_step::kind::cluster: return "cluster";
    default: return "quantize";
    }
}

const char* preset_json(std::string_view name) {
    if (name == "int8")
        return R"({"name": "int8", "execution": "int8-static", "calibration": "auto",
                   "steps": [{"kind": "quantize", "bits": 8, "granularity": "per_channel"}]})";
    if (name == "int8-sq")
        return R"({"name": "int8-sq", "execution": "int8-static", "calibration": "auto",
                   "smooth_quant": {"alpha": "search"},
                   "steps": [{"kind": "quantize", "bits": 8, "granularity": "per_channel"}]})";
    if (name == "int8-dynamic")
        return R"({"name": "int8-dynamic", "execution": "int8-dynamic",
                   "steps": [{"kind": "quantize", "bits": 8, "granularity": "per_channel"}]})";
    if (name == "int4")
        return R"({"name": "int4", "execution": "f32",
                   "steps": [{"kind": "quantize", "bits": 4, "granularity": "per_group",
                              "group_size": 128, "method": "gptq"}]})";
    if (name == "sparse50")
        return R"({"name": "sparse50", "execution": "f32",
                   "layers": {"op_types": ["Gemm", "MatMul"]},
                   "steps": [{"kind": "prune", "method": "sparsegpt", "sparsity": 0.5}]})";
    if (name == "2:4")
        return R"({"name": "2:4", "execution": "f32",
                   "layers": {"op_types": ["Gemm", "MatMul"]},
                   "steps": [{"kind": "prune", "method": "sparsegpt", "n": 2, "m": 4}]})";
    if (name == "cluster16")
        return R"({"name": "cluster16", "execution": "f32",
                   "layers": {"op_types": ["Gemm", "MatMul"]},
                   "steps": [{"kind": "cluster", "clusters": 16, "method": "optimal"}]})";
    if (name == "sparse90-ft")
        return R"({"name": "sparse90-ft", "execution": "f32",
                   "layers": {"op_types": ["Gemm", "MatMul"]},
                   "steps": [{"kind": "prune", "method": "sparsegpt", "sparsity": 0.9},
                             {"kind": "finetune", "epochs": 3, "optimizer": "adamw", "lr": 0.002,
                              "schedule": "cosine", "loss": "distill", "temperature": 4,
                              "alpha": 1, "batch": 128}]})";
    if (name == "compact")
        return R"({"name": "compact", "execution": "int8-static", "calibration": "auto",
                   "steps": [{"kind": "prune", "method": "sparsegpt", "sparsity": 0.5,
                              "op_types": ["Gemm", "MatMul"]},
                             {"kind": "cluster", "clusters": 16, "method": "optimal",
                              "op_types": ["Gemm", "MatMul"]}]})";
    return nullptr;
}

accuracy_search parse_search(const json& j, std::string_view source) {
    if (!j.is_object()) bad(source, "search must be an object");
    static const std::vector<std::string> known = {"tolerable_drop", "relative", "ranking_samples",
                                                   "max_trials", "keep_bits"};
    for (const auto& [k, v] : j.items())
        if (std::find(known.begin(), known.end(), k) == known.end())
            bad(source, fmt::format("search: unknown field '{}'", k));
    accuracy_search s;
    s.tolerable_drop = get<double>(j, "tolerable_drop", s.tolerable_drop, source, "search");
    s.relative = get<bool>(j, "relative", s.relative, source, "search");
    s.ranking_samples =
        get<std::int64_t>(j, "ranking_samples", s.ranking_samples, source, "search");
    s.max_trials = get<int>(j, "max_trials", s.max_trials, source, "search");
    s.keep_bits = get<int>(j, "keep_bits", s.keep_bits, source, "search");
    if (!(s.tolerable_drop >= 0 && s.tolerable_drop < 1))
        bad(source, fmt::format("search.tolerable_drop {} must lie in [0, 1) (a fraction: 0.003 "
                                "is 0.3 points)",
                                s.tolerable_drop));
    if (s.ranking_samples < 1)
        bad(source, fmt::format("search.ranking_samples {} must be at least 1", s.ranking_samples));
    if (s.max_trials < 1)
        bad(source, fmt::format("search.max_trials {} must be at least 1", s.max_trials));
    if (s.keep_bits != 32 && (s.keep_bits < 2 || s.keep_bits > 8))
        bad(source, fmt::format("search.keep_bits {} must be 32 (f32) or 2…8", s.keep_bits));
    return s;
}

precision_budget parse_budget(const json& j, std::string_view source) {
    if (!j.is_object()) bad(source, "budget must be an object");
    static const std::vector<std::string> known = {"bits_per_weight", "file_bytes", "choices",
                                                   "palettes", "ranking_samples"};
    for (const auto& [k, v] : j.items())
        if (std::find(known.begin(), known.end(), k) == known.end())
            bad(source, fmt::format("budget: unknown field '{}'", k));
    precision_budget b;
    b.bits_per_weight = get<double>(j, "bits_per_weight", b.bits_per_weight, source, "budget");
    if (j.contains("file_bytes")) {
        if (j.contains("bits_per_weight"))
            bad(source, "budget: bits_per_weight and file_bytes are alternatives: give one");
        const auto bytes = get<std::int64_t>(j, "file_bytes", 0, source, "budget");
        if (bytes < 1) bad(source, fmt::format("budget.file_bytes {} must be at least 1", bytes));
        b.file_bytes = std::uint64_t(bytes);
    }
    b.choices = get<std::vector<int>>(j, "choices", b.choices, source, "budget");
    b.palettes = get<std::vector<int>>(j, "palettes", b.palettes, source, "budget");
    for (const int k : b.palettes)
        if (k < 2 || k > 256)
            bad(source, fmt::format("budget.palettes: {} entries is not in 2…256", k));
    std::sort(b.palettes.begin(), b.palettes.end(), std::greater<>());
    b.palettes.erase(std::unique(b.palettes.begin(), b.palettes.end()), b.palettes.end());
    b.ranking_samples =
        get<std::int64_t>(j, "ranking_samples", b.ranking_samples, source, "budget");
    if (!(b.bits_per_weight > 0 && b.bits_per_weight <= 32))
        bad(source,
            fmt::format("budget.bits_per_weight {} must lie in (0, 32]", b.bits_per_weight));
    if (b.choices.empty()) bad(source, "budget.choices must name at least one bit width");
    for (const int c : b.choices)
        if (c < 2 || c > 8)
            bad(source, fmt::format("budget.choices: {} bits is not in 2…8 (f32 is always a "
                                    "choice)",
                                    c));
    if (b.ranking_samples < 1)
        bad(source, fmt::format("budget.ranking_samples {} must be at least 1", b.ranking_samples));
    std::sort(b.choices.begin(), b.choices.end(), std::greater<>());
    b.choices.erase(std::unique(b.choices.begin(), b.choices.end()), b.choices.end());
    return b;
}

} // namespace

json precision_budget::to_json() const {
    json j = {{"choices", choices}, {"ranking_samples", ranking_samples}};
    if (!palettes.empty()) j["palettes"] = palettes;
    if (file_bytes)
        j["file_bytes"] = *file_bytes;
    else
        j["bits_per_weight"] = bits_per_weight;
    return j;
}

json accuracy_search::to_json() const {
    return {{"tolerable_drop", tolerable_drop},
            {"relative", relative},
            {"ranking_samples", ranking_samples},
            {"max_trials", max_trials},
            {"keep_bits", keep_bits}};
}

const std::vector<std::string>& recipe_presets() {
    static const std::vector<std::string> names = {"int8",      "int8-sq",  "int8-dynamic",
                                                   "int4",      "sparse50", "2:4",
                                                   "cluster16", "compact",  "sparse90-ft"};
    return names;
}

recipe parse_recipe(std::string_view text, std::string_view source) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        fail(status::format_error,
             fmt::format("recipe '{}': not valid JSON ({})", source, e.what()));
    }
    if (!j.is_object()) bad(source, "must be a JSON object");
    static const std::vector<std::string> known = {
        "name",   "execution", "calibration", "layers",       "steps",    "overrides",
        "search", "budget",    "sequential",  "smooth_quant", "kv_cache", "comment"};
    for (const auto& [k, v] : j.items())
        if (std::find(known.begin(), known.end(), k) == known.end())
            bad(source, fmt::format("unknown field '{}'", k));
    recipe r;
    r.name = get<std::string>(j, "name", std::string(source), source, "recipe");
    const auto exec = get<std::string>(j, "execution", "f32", source, "recipe");
    if (exec == "f32")
        r.execution = exec_precision::f32;
    else if (exec == "int8-dynamic")
        r.execution = exec_precision::int8_dynamic;
    else if (exec == "int8-static")
        r.execution = exec_precision::int8_static;
    else
        bad(source, fmt::format("execution '{}': expected f32, int8-dynamic or int8-static", exec));
    get_named(j, "calibration", calib_names, r.calibration, source, "recipe");
    r.sequential = get<bool>(j, "sequential", true, source, "recipe");
    if (j.contains("layers")) {
        const auto& l = j["layers"];
        if (!l.is_object()) bad(source, "layers must be an object");
        for (const auto& [k, v] : l.items())
            if (k != "include" && k != "op_types" && k != "exclude")
                bad(source, fmt::format("layers: unknown field '{}'", k));
        r.include = get<std::vector<std::string>>(l, "include", {}, source, "layers");
        r.op_types = get<std::vector<std::string>>(l, "op_types", r.op_types, source, "layers");
        r.exclude = get<std::vector<std::string>>(l, "exclude", {}, source, "layers");
        for (const auto& op : r.op_types)
            if (!is_layer_op(op))
                bad(source, fmt::format("layers.op_types: '{}' is not an op hone optimizes "
                                        "(Gemm, MatMul, Conv, ConvTranspose)",
                                        op));
    }
    if (!j.contains("steps") || !j["steps"].is_array() || j["steps"].empty())
        bad(source, "steps must be a non-empty array");
    for (std::size_t i = 0; i < j["steps"].size(); ++i) {
        const auto& s = j["steps"][i];
        const auto where = fmt::format("steps[{}]", i);
        if (!s.is_object() || !s.contains("kind") || !s["kind"].is_string())
            bad(source, fmt::format("{} must be an object with a \"kind\"", where));
        if (s["kind"] == "finetune") {
            if (i + 1 != j["steps"].size())
                bad(source, fmt::format("{}: finetune retrains the whole model after the one-shot "
                                        "steps and must be the last step",
                                        where));
            r.finetune.emplace();
            parse_finetune(*r.finetune, s, source, where);
            continue;
        }
        recipe_step step;
        step.what = kind_of(s["kind"].get<std::string>(), source, where);
        apply_params(step, s, source, where);
        r.steps.push_back(step);
    }
    if (j.contains("overrides")) {
        const auto& o = j["overrides"];
        if (!o.is_object()) bad(source, "overrides must be an object {\"glob\": {...}}");
        for (const auto& [pattern, v] : o.items()) {
            const auto where = fmt::format("overrides['{}']", pattern);
            if (!v.is_object()) bad(source, fmt::format("{} must be an object", where));
            recipe_override ov;
            ov.pattern = pattern;
            for (const auto& [k, p] : v.items()) {
                if (k == "exclude") {
                    ov.exclude = get<bool>(v, "exclude", false, source, where);
                } else if (k == "steps") {
                    if (!p.is_array() || p.empty())
                        bad(source, fmt::format("{}.steps must be a non-empty array", where));
                    for (std::size_t i = 0; i < p.size(); ++i) {
                        const auto at = fmt::format("{}.steps[{}]", where, i);
                        if (!p[i].is_object() || !p[i].contains("kind") ||
                            !p[i]["kind"].is_string())
                            bad(source, fmt::format("{} must be an object with a \"kind\"", at));
                        if (p[i]["kind"] == "finetune")
                            bad(source, fmt::format("{}: finetune retrains the whole model: a "
                                                    "recipe step, not a layer's",
                                                    at));
                        recipe_step step;
                        step.what = kind_of(p[i]["kind"].get<std::string>(), source, at);
                        apply_params(step, p[i], source, at);
                        ov.steps.push_back(step);
                    }
                } else {
                    recipe_step probe;
                    probe.what = kind_of(k, source, where);
                    apply_params(probe, p, source, where + "." + k); // validates the fields
                    ov.step_params[k] = p;
                }
            }
            r.overrides.push_back(std::move(ov));
        }
    }
    if (j.contains("smooth_quant")) {
        const auto& sq = j["smooth_quant"];
        if (!sq.is_object()) bad(source, "smooth_quant must be an object {\"alpha\": 0.5}");
        for (const auto& [k, v] : sq.items())
            if (k != "alpha") bad(source, fmt::format("smooth_quant: unknown field '{}'", k));
        smoothing sm;
        if (sq.contains("alpha") && !(sq["alpha"].is_string() && sq["alpha"] == "search")) {
            const auto a = get<double>(sq, "alpha", 0.5, source, "smooth_quant");
            if (!(a >= 0 && a <= 1))
                bad(source, fmt::format("smooth_quant.alpha {} must lie in [0, 1] (or be "
                                        "\"search\")",
                                        a));
            sm.alpha = float(a);
        }
        if (r.execution != exec_precision::int8_static)
            bad(source, "smooth_quant moves activation outliers into the weights for W8A8: it "
                        "needs execution int8-static");
        r.smooth_quant = sm;
    }
    const auto kv = get<std::string>(j, "kv_cache", "f32", source, "recipe");
    if (kv != "f32" && kv != "int8")
        bad(source, fmt::format("kv_cache '{}': expected f32 or int8", kv));
    r.kv_cache_int8 = kv == "int8";
    if (j.contains("search")) r.search = parse_search(j["search"], source);
    if (j.contains("budget")) r.budget = parse_budget(j["budget"], source);
    if (r.search && r.budget)
        bad(source, "search and budget are alternatives: give one (a budget chooses every "
                    "layer's precision; a search keeps layers in f32 to meet a drop)");
    if (r.budget && std::none_of(r.steps.begin(), r.steps.end(), [](const recipe_step& s) {
            return s.what == recipe_step::kind::quantize;
        }))
        bad(source, "budget: needs a quantize step (its bits are what the budget chooses)");
    if (r.search && r.search->keep_bits != 32) {
        // Kept layers are quantized at keep_bits: there must be fewer bits to keep them from.
        const auto fewer = [&](const recipe_step& s) {
            return s.what == recipe_step::kind::quantize && s.bits < r.search->keep_bits;
        };
        if (std::none_of(r.steps.begin(), r.steps.end(), fewer))
            bad(source, fmt::format("search.keep_bits {}: needs a quantize step of fewer bits "
                                    "(keep_bits is the precision a kept layer gets instead)",
                                    r.search->keep_bits));
    }
    return r;
}

recipe load_recipe(std::string_view name_or_file) {
    if (const char* preset = preset_json(name_or_file)) return parse_recipe(preset, name_or_file);
    // JSON text (the C ABI and the bindings pass recipes without a file).
    const auto first = name_or_file.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && name_or_file[first] == '{')
        return parse_recipe(name_or_file, "recipe text");
    std::error_code ec;
    const std::filesystem::path p{std::string(name_or_file)};
    if (p.extension() != ".json" || !std::filesystem::exists(p, ec)) {
        std::string names;
        for (const auto& n : recipe_presets())
            names += (names.empty() ? "" : ", ") + n;
        fail(status::invalid_argument,
             fmt::format("--recipe '{}': neither a preset ({}) nor an existing recipe .json file",
                         name_or_file, names));
    }
    return parse_recipe(read_file(p), name_or_file);
}

std::optional<std::vector<recipe_step>> recipe::steps_for(std::string_view layer,
                                                          std::string_view op_type,
                                                          std::string_view first,
                                                          std::string_view last) const {
    const auto matches = [&](const std::string& pattern) {
        if (pattern == "@first") return !first.empty() && layer == first;
        if (pattern == "@last") return !last.empty() && layer == last;
        return glob_match(pattern, layer);
    };
    if (std::find(op_types.begin(), op_types.end(), op_type) == op_types.end()) return std::nullopt;
    if (!include.empty() && std::none_of(include.begin(), include.end(), matches))
        return std::nullopt;
    for (const auto& g : exclude)
        if (matches(g)) return std::nullopt;
    std::vector<recipe_step> out;
    for (const auto& s : steps)
        if (s.op_types.empty() ||
            std::find(s.op_types.begin(), s.op_types.end(), op_type) != s.op_types.end())
            out.push_back(s);
    for (const auto& o : overrides) {
        if (!matches(o.pattern)) continue;
        if (o.exclude) return std::nullopt;
        if (!o.steps.empty()) out = o.steps;
        for (auto& s : out)
            if (o.step_params.contains(kind_name(s.what)))
                apply_params(s, o.step_params[kind_name(s.what)], name, o.pattern);
    }
    return out;
}

namespace {

json step_json(const recipe_step& s) {
    json j{{"kind", kind_name(s.what)}};
    if (!s.op_types.empty()) j["op_types"] = s.op_types;
    switch (s.what) {
    case recipe_step::kind::prune:
        j["method"] = name_of(s.pruning);
        if (s.n > 0) {
            j["n"] = s.n;
            j["m"] = s.m;
        } else {
            j["sparsity"] = s.sparsity;
        }
        break;
    case recipe_step::kind::cluster:
        j["clusters"] = s.clusters;
        j["method"] = name_of(s.clustering);
        break;
    case recipe_step::kind::quantize:
        j["bits"] = s.bits;
        j["granularity"] = name_of(s.granularity);
        if (s.granularity == quant_granularity::per_group) j["group_size"] = s.group_size;
        j["method"] = name_of(s.quantizing);
        if (s.act_order) j["act_order"] = true;
        break;
    }
    return j;
}

} // namespace

json recipe::to_json() const {
    json steps_j = json::array();
    for (const auto& s : steps)
        steps_j.push_back(step_json(s));
    if (finetune) steps_j.push_back(finetune->to_json());
    json ov = json::object();
    for (const auto& o : overrides) {
        json v = o.step_params;
        if (o.exclude) v["exclude"] = true;
        if (!o.steps.empty()) {
            v["steps"] = json::array();
            for (const auto& st : o.steps)
                v["steps"].push_back(step_json(st));
        }
        ov[o.pattern] = v;
    }
    const char* exec = execution == exec_precision::int8_static    ? "int8-static"
                       : execution == exec_precision::int8_dynamic ? "int8-dynamic"
                                                                   : "f32";
    json j{{"name", name},
           {"execution", exec},
           {"calibration", name_of(calibration)},
           {"layers", {{"include", include}, {"op_types", op_types}, {"exclude", exclude}}},
           {"steps", steps_j},
           {"overrides", ov}};
    if (needs_layer_inputs()) j["sequential"] = sequential; // how the layer inputs were seen
    if (smooth_quant) j["smooth_quant"] = smooth_quant->to_json();
    if (kv_cache_int8) j["kv_cache"] = "int8";
    if (search) j["search"] = search->to_json();
    if (budget) j["budget"] = budget->to_json();
    return j;
}

} // namespace hone::pipeline
