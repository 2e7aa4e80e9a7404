#include "hone/metrics/layer_error.hpp"

#include "hone/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace hone {

void layer_error_collector::add(std::string_view name, const_tensor_view baseline,
                                const_tensor_view candidate) {
    if (baseline.type() != dtype::f32 || candidate.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("layer error of '{}': activations must be f32", name));
    if (baseline.dims() != candidate.dims())
        fail(status::shape_mismatch,
             fmt::format("layer error of '{}': baseline shape {} but candidate shape {}", name,
                         baseline.dims().to_string(), candidate.dims().to_string()));
    const tensor base = tensor::copy_of(baseline), cand = tensor::copy_of(candidate);
    const std::string label = fmt::format("layer error of '{}'", name);
    const auto sums = kernels::compare(base.span<float>(), cand.span<float>(), label.c_str());
    if (sums.non_finite)
        fail(status::invalid_argument,
             fmt::format("{}: {} activation values are NaN or inf", label, sums.non_finite));
    auto it = std::find_if(layers_.begin(), layers_.end(),
                           [&](const layer_error& l) { return l.name == name; });
    if (it == layers_.end()) {
        layers_.push_back({std::string(name), sums});
    } else {
        it->sums.merge(sums);
    }
}

std::string layer_error_collector::to_json() const {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& l : layers_) {
        const double sqnr = l.sqnr_db();
        list.push_back({{"name", l.name},
                        {"elements", l.sums.count},
                        {"sqnr_db", std::isfinite(sqnr) ? nlohmann::json(sqnr) : nlohmann::json()},
                        {"mse", l.mse()},
                        {"max_abs_error", l.sums.max_abs_error}});
    }
    return list.dump();
}

} // namespace hone
