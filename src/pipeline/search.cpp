#include "search.hpp"

#include "stage.hpp"

#include <hone/core/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace hone::pipeline {

using json = nlohmann::json;

json search_result::to_json() const {
    json t = json::array();
    for (const auto& x : trials)
        t.push_back({{"role", x.role},
                     {"kept", x.kept},
                     {"accuracy", x.accuracy},
                     {"drop", x.drop},
                     {"within", x.within}});
    return {{"baseline", baseline}, {"bound", bound},       {"met", met},
            {"kept", kept},         {"accuracy", accuracy}, {"trials", t}};
}

std::string kept_precision(int keep_bits) {
    return keep_bits == 32 ? "in f32" : fmt::format("at {} bits", keep_bits);
}

search_result search_layers(const accuracy_search& params, const std::vector<std::string>& layers,
                            double baseline_accuracy,
                            const std::function<double(const std::vector<std::string>&)>& measure,
                            const pipeline_events& events) {
    if (layers.empty())
        fail(status::invalid_argument, "accuracy search: the recipe selects no layer");
    search_result r;
    r.baseline = baseline_accuracy;
    r.bound = params.relative ? params.tolerable_drop * baseline_accuracy : params.tolerable_drop;
    const auto budget = static_cast<std::uint64_t>(params.max_trials);
    stage bar(events, "accuracy search", budget);
    const auto trial = [&](const char* role, std::vector<std::string> kept) {
        search_trial t;
        t.role = role;
        t.accuracy = measure(kept);
        t.kept = std::move(kept);
        t.drop = baseline_accuracy - t.accuracy;
        t.within = t.drop <= r.bound;
        r.trials.push_back(t);
        bar.advance();
        note(events, fmt::format("accuracy search: {} {} layer(s) {}{}: accuracy {:.2f}% "
                                 "(drop {:+.2f} points, bound {:.2f})",
                                 t.role, t.kept.size(), kept_precision(params.keep_bits),
                                 t.kept.size() == 1 ? " (" + t.kept[0] + ")" : std::string(),
                                 100 * t.accuracy, 100 * t.drop, 100 * r.bound));
        return t;
    };
    const auto choose = [&r](const search_trial& t) {
        r.kept = t.kept;
        r.accuracy = t.accuracy;
        r.met = t.within;
    };
    const auto full = trial("full", {});
    choose(full);
    if (full.within || layers.size() == 1) {
        bar.finish();
        return r;
    }
    // Ranking: each layer kept alone, while the budget lasts.
    std::vector<double> gain(layers.size(), -1e300);
    std::vector<bool> ranked(layers.size(), false);
    for (std::size_t i = 0; i < layers.size() && r.trials.size() < budget; ++i) {
        gain[i] = trial("rank", {layers[i]}).accuracy - full.accuracy;
        ranked[i] = true;
    }
    std::vector<std::size_t> order(layers.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return gain[a] > gain[b]; });
    // Greedy: keep layers cumulatively until the bound holds. One kept layer was measured while
    // ranking; later steps are new candidates.
    std::vector<std::string> kept;
    for (std::size_t step = 0; step + 1 < layers.size(); ++step) {
        kept.push_back(layers[order[step]]);
        if (step == 0 && ranked[order[0]]) {
            const auto it = std::find_if(r.trials.begin(), r.trials.end(), [&](const auto& t) {
                return t.role == std::string("rank") && t.kept == kept;
            });
            if (it->within) {
                choose(*it);
                bar.finish();
                return r;
            }
            continue;
        }
        if (r.trials.size() >= budget) break;
        const auto t = trial("keep", kept);
        if (t.within) {
            choose(t);
            bar.finish();
            return r;
        }
    }
    // Never within the bound: the most accurate candidate measured (fewest layers on ties).
    const auto best =
        std::min_element(r.trials.begin(), r.trials.end(), [](const auto& a, const auto& b) {
            return a.accuracy != b.accuracy ? a.accuracy > b.accuracy
                                            : a.kept.size() < b.kept.size();
        });
    choose(*best);
    bar.finish();
    return r;
}

} // namespace hone::pipeline
