#include "budget.hpp"

#include <hone/core/error.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace hone::pipeline {

namespace {

struct partial {
    std::uint64_t bytes = 0;
    double noise = 0;
    std::vector<std::size_t> choice;
};

// The Pareto front of `v`: sorted by bytes, each point strictly less noisy than every cheaper one.
std::vector<partial> front_of(std::vector<partial> v) {
    std::stable_sort(v.begin(), v.end(), [](const partial& a, const partial& b) {
        return a.bytes != b.bytes ? a.bytes < b.bytes : a.noise < b.noise;
    });
    std::vector<partial> out;
    for (auto& p : v)
        if (out.empty() || p.noise < out.back().noise) out.push_back(std::move(p));
    return out;
}

} // namespace

precision_allocation allocate_precision(const std::vector<layer_options>& layers,
                                        std::uint64_t budget_bytes, std::size_t max_front) {
    precision_allocation a;
    max_front = std::max<std::size_t>(max_front, 2);
    for (const auto& l : layers)
        if (l.options.empty())
            fail(status::invalid_argument,
                 fmt::format("precision budget: layer '{}' has no options", l.layer));
    // The smallest choice of each layer: the answer when nothing fits.
    std::vector<std::size_t> smallest;
    std::uint64_t min_bytes = 0;
    for (const auto& l : layers) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < l.options.size(); ++i)
            if (l.options[i].bytes < l.options[best].bytes ||
                (l.options[i].bytes == l.options[best].bytes &&
                 l.options[i].noise < l.options[best].noise))
                best = i;
        smallest.push_back(best);
        min_bytes += l.options[best].bytes;
    }
    if (min_bytes > budget_bytes) {
        a.choice = smallest;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            a.bytes += layers[i].options[smallest[i]].bytes;
            a.noise += layers[i].options[smallest[i]].noise;
        }
        a.feasible = false;
        return a;
    }
    std::vector<partial> front{partial{}};
    for (std::size_t li = 0; li < layers.size(); ++li) {
        // What the remaining layers need at least: partial sums beyond budget − that are dead.
        std::uint64_t rest = 0;
        for (std::size_t j = li + 1; j < layers.size(); ++j)
            rest += layers[j].options[smallest[j]].bytes;
        std::vector<partial> next;
        for (const auto& p : front)
            for (std::size_t oi = 0; oi < layers[li].options.size(); ++oi) {
                const auto& o = layers[li].options[oi];
                if (p.bytes + o.bytes + rest > budget_bytes) continue;
                partial q{p.bytes + o.bytes, p.noise + o.noise, p.choice};
                q.choice.push_back(oi);
                next.push_back(std::move(q));
            }
        front = front_of(std::move(next));
        if (front.size() > max_front) {
            std::vector<partial> thin;
            for (std::size_t k = 0; k < max_front; ++k)
                thin.push_back(std::move(front[k * (front.size() - 1) / (max_front - 1)]));
            front = std::move(thin);
            a.exact = false;
        }
    }
    // The front is sorted by bytes with falling noise: its last point is the least noisy.
    const auto& best = front.back();
    a.choice = best.choice;
    a.bytes = best.bytes;
    a.noise = best.noise;
    a.feasible = true;
    return a;
}

nlohmann::json allocation_json(const std::vector<layer_options>& layers,
                               const precision_allocation& a, std::uint64_t budget_bytes) {
    nlohmann::json ls = nlohmann::json::array();
    for (std::size_t i = 0; i < layers.size(); ++i) {
        nlohmann::json opts = nlohmann::json::array();
        for (const auto& o : layers[i].options) {
            opts.push_back({{"bits", o.bits}, {"noise", o.noise}, {"bytes", o.bytes}});
            if (o.clusters > 0) opts.back()["clusters"] = o.clusters;
        }
        const auto& chosen = layers[i].options[a.choice.at(i)];
        ls.push_back({{"layer", layers[i].layer}, {"bits", chosen.bits}, {"options", opts}});
        if (chosen.clusters > 0) ls.back()["clusters"] = chosen.clusters;
    }
    return {{"budget_bytes", budget_bytes}, {"bytes", a.bytes}, {"noise", a.noise},
            {"feasible", a.feasible},       {"exact", a.exact}, {"layers", ls}};
}

} // namespace hone::pipeline
