// Elementwise math, reductions and normalizations run through the executor's op table.
#include "op_table.hpp"
#include "ops/common.hpp"

#include <cmath>

namespace hone::op_table {

namespace {

// An f32 → f32 elementwise operator without attributes, keeping the input's shape.
template <class F> entry unary(const char* path, F f) {
    entry e;
    e.path = path;
    e.compile = [path, f](const context&) {
        return one_output([path, f](std::span<const optional_view> in) {
            return ops::detail::unary_apply(required(in, 0, path), path, f);
        });
    };
    e.infer = [](const context& c) -> std::vector<partial_shape> {
        if (const auto* s = c.shape(0)) return {*s};
        return {};
    };
    return e;
}

} // namespace

void add_math_ops(table& t) {
    t["Exp"] = unary("ops::exp", [](float v) { return std::exp(v); });
    t["Log"] = unary("ops::log", [](float v) { return std::log(v); });
    t["Neg"] = unary("ops::neg", [](float v) { return -v; });
    t["Abs"] = unary("ops::abs", [](float v) { return std::fabs(v); });
}

} // namespace hone::op_table
