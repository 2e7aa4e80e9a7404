// Indexing and data-movement operators run through the executor's op table: Pad, Split, Tile,
// Range, Trilu, TopK, GatherElements, ScatterND, ScatterElements, Size, NonZero, OneHot.
#include "hone/core/error.hpp"
#include "op_table.hpp"
#include "ops/indexing.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace hone::op_table {

namespace {

using V = std::span<const optional_view>;

bool present(V in, std::size_t i) { return i < in.size() && in[i].has_value(); }

// A string attribute that must be one of `names` (mapped to `values`); invalid_argument naming
// the attribute otherwise.
template <class E>
E choice(const context& c, const char* attr, const char* fallback,
         std::initializer_list<std::pair<const char*, E>> options) {
    const auto s = c.n.get_string(attr, fallback);
    std::string list;
    for (const auto& [name, value] : options) {
        if (s == name) return value;
        list += (list.empty() ? "" : ", ") + std::string(name);
    }
    fail(status::invalid_argument,
         fmt::format("{}: attribute '{}' is '{}', expected one of {}", c.label, attr, s, list));
}

// Integers of constant input i, when it is a constant.
std::optional<std::vector<std::int64_t>> constant_ints(const context& c, std::size_t i,
                                                       const char* what) {
    const auto v = c.constant(i);
    if (!v) return std::nullopt;
    return ops::to_int64_vector(*v, c.label.c_str(), what);
}

// One integer from a scalar or one-element input (TopK's K, Trilu's k).
std::int64_t one_int(const_tensor_view v, const char* op, const char* what) {
    const auto values = ops::to_int64_vector(v, op, what);
    if (values.size() != 1)
        fail(status::shape_mismatch,
             fmt::format("{}: input '{}' has {} values, expected one", op, what, values.size()));
    return values[0];
}

// The same dims as input i (output 0), when known.
std::vector<partial_shape> same_as(const context& c, std::size_t i) {
    if (const auto* s = c.shape(i)) return {*s};
    return {};
}

// ---- Pad ----------------------------------------------------------------------------------------

entry pad_entry() {
    entry e;
    e.path = "ops::pad";
    e.compile = [](const context& c) {
        const auto mode = choice<ops::pad_mode>(c, "mode", "constant",
                                                {{"constant", ops::pad_mode::constant},
                                                 {"reflect", ops::pad_mode::reflect},
                                                 {"edge", ops::pad_mode::edge},
                                                 {"wrap", ops::pad_mode::wrap}});
        // Opsets < 11 hold pads and the value as attributes (the ONNX reader moves them to
        // inputs; a model built in memory may still have them).
        const bool attr_pads = c.n.has("pads");
        const auto pads_attr = c.n.get_ints("pads", {});
        const float value_attr = c.n.get_float("value", 0.0f);
        return one_output([=](V in) {
            const auto x = required(in, 0, "Pad");
            if (attr_pads) {
                tensor value(dtype::f32, shape{});
                *static_cast<float*>(value.data()) = value_attr;
                const tensor v = ops::cast(value, x.type());
                return ops::pad(x, pads_attr, mode, v.view());
            }
            const auto pads = ops::to_int64_vector(required(in, 1, "Pad"), "Pad", "pads");
            const auto axes = present(in, 3) ? ops::to_int64_vector(*in[3], "Pad", "axes")
                                             : std::vector<std::int64_t>{};
            return ops::pad(x, pads, mode, present(in, 2) ? in[2] : std::nullopt, axes);
        });
    };
    e.infer = [](const context& c) -> std::vector<partial_shape> {
        const auto* x = c.shape(0);
        if (!x) return {};
        const auto r = static_cast<std::int64_t>(x->size());
        auto pads =
            c.n.has("pads") ? std::optional(c.n.get_ints("pads", {})) : constant_ints(c, 1, "pads");
        std::vector<std::int64_t> axes;
        const bool has_axes = c.n.inputs.size() > 3 && !c.n.inputs[3].empty();
        if (has_axes) {
            const auto a = constant_ints(c, 3, "axes");
            if (!a)
                pads.reset();
            else
                axes = *a;
        } else {
            for (std::int64_t a = 0; a < r; ++a)
                axes.push_back(a);
        }
        partial_shape out(x->size(), -1);
        if (!pads || pads->size() != 2 * axes.size()) return {out};
        out = *x;
        for (std::size_t i = 0; i < axes.size(); ++i) {
            const auto a = static_cast<std::size_t>(ops::normalize_axis(axes[i], x->size(), "Pad"));
            if (out[a] >= 0) out[a] += (*pads)[i] + (*pads)[i + axes.size()];
        }
        return {out};
    };
    return e;
}

// ---- Split --------------------------------------------------------------------------------------

entry split_entry() {
    entry e;
    e.path = "ops::split";
    e.compile = [](const context& c) {
        const auto axis = c.n.get_int("axis", 0);
        const auto outputs = static_cast<std::int64_t>(c.n.outputs.size());
        const bool attr_split = c.n.has("split"); // opset < 13
        const auto split_attr = c.n.get_ints("split", {});
        const bool has_num = c.n.has("num_outputs"); // opset 18
        const auto num = c.n.get_int("num_outputs", outputs);
        if (has_num && num != outputs)
            fail(status::invalid_argument,
                 fmt::format("{}: attribute 'num_outputs' is {}, the node has {} outputs", c.label,
                             num, outputs));
        const std::string label = c.label;
        return kernel([=](V in, double&) {
            const auto x = required(in, 0, "Split");
            std::vector<std::int64_t> sizes;
            if (attr_split)
                sizes = split_attr;
            else if (present(in, 1))
                sizes = ops::to_int64_vector(*in[1], "Split", "split");
            else
                sizes = ops::split_sizes(x.dims()[static_cast<std::size_t>(
                                             ops::normalize_axis(axis, x.rank(), "Split"))],
                                         outputs, has_num);
            if (static_cast<std::int64_t>(sizes.size()) != outputs)
                fail(status::invalid_argument,
                     fmt::format("{}: 'split' has {} sizes, the node has {} outputs", label,
                                 sizes.size(), outputs));
            return ops::split(x, sizes, axis);
        });
    };
    e.infer = [](const context& c) -> std::vector<partial_shape> {
        const auto* x = c.shape(0);
        if (!x || x->empty()) return {};
        const auto a = static_cast<std::size_t>(
            ops::normalize_axis(c.n.get_int("axis", 0), x->size(), "Split"));
        const auto outputs = static_cast<std::int64_t>(c.n.outputs.size());
        std::optional<std::vector<std::int64_t>> sizes;
        if (c.n.has("split"))
            sizes = c.n.get_ints("split", {});
        else if (c.n.inputs.size() > 1 && !c.n.inputs[1].empty())
            sizes = constant_ints(c, 1, "split");
        else if ((*x)[a] >= 0)
            sizes = ops::split_sizes((*x)[a], outputs, c.n.has("num_outputs"));
        std::vector<partial_shape> outs;
        for (std::int64_t k = 0; k < outputs; ++k) {
            auto s = *x;
            s[a] = sizes && static_cast<std::int64_t>(sizes->size()) == outputs
                       ? (*sizes)[static_cast<std::size_t>(k)]
                       : -1;
            outs.push_back(s);
        }
        return outs;
    };
    return e;
}

// ---- Tile, Range, Trilu -------------------------------------------------------------------------

entry tile_entry() {
    entry e;
    e.path = "ops::tile";
    e.compile = [](const context&) {
        return one_output([](V in) {
            return ops::tile(required(in, 0, "Tile"),
                             ops::to_int64_vector(required(in, 1, "Tile"), "Tile", "repeats"));
        });
    };
    e.infer = [](const context& c) -> std::vector<partial_shape> {
        const auto* x = c.shape(0);
        if (!x) return {};
        partial_shape out(x->size(), -1);
        const auto rep = constant_ints(c, 1, "repeats");
        if (rep && rep->size() == x->size())
            for (std::size_t a = 0; a < x->size(); ++a)
                out[a] = (*x)[a] >= 0 ? (*x)[a] * (*rep)[a] : ((*rep)[a] == 0 ? 0 : -1);
        return {out};
    };
    return e;
}

entry range_entry() {
    entry e;
    e.path = "ops::range";
    e.compile = [](const context&) {
        return one_output([](V in) {
            return ops::range(required(in, 0, "Range"), required(in, 1, "Range"),
                              required(in, 2, "Range"));
        });
    };
    e.infer = [](const context&) -> std::vector<partial_shape> { return {{-1}}; };
    return e;
}

entry trilu_entry() {
    entry e;
    e.path = "ops::trilu";
    e.compile = [](const context& c) {
        const bool upper = c.n.get_int("upper", 1) != 0;
        return one_output([upper](V in) {
            const std::int64_t k = present(in, 1) ? one_int(*in[1], "Trilu", "k") : 0;
            return ops::trilu(required(in, 0, "Trilu"), k, upper);
        });
    };
    e.infer = [](const context& c) { return same_as(c, 0); };
    return e;
}

// ---- TopK ---------------------------------------------------------------------------------------

entry topk_entry() {
    entry e;
    e.path = "ops::topk";
    e.compile = [](const context& c) {
        const auto axis = c.n.get_int("axis", -1);
        const bool largest = c.n.get_int("largest", 1) != 0;
        // sorted = 0 leaves the order to the implementation: hone always sorts.
        const bool attr_k = c.n.has("k"); // opset < 10
        const auto k_attr = c.n.get_int("k", 0);
        return kernel([=](V in, double&) {
            const std::int64_t k = attr_k ? k_attr : one_int(required(in, 1, "TopK"), "TopK", "K");
            return ops::topk(required(in, 0, "TopK"), k, axis, largest);
        });
    };
    e.infer = [](const context& c) -> std::vector<partial_shape> {
        const auto* x = c.shape(0);
        if (!x || x->empty()) return {};
        auto out = *x;
        const auto a = static_cast<std::size_t>(
            ops::normalize_axis(c.n.get_int("axis", -1), x->size(), "TopK"));
        std::optional<std::int64_t> k;
        if (c.n.has("k"))
            k = c.n.get_int("k", 0);
        else if (const auto v = constant_ints(c, 1, "K"); v && v->size() == 1)
            k = (*v)[0];
        out[a] = k ? *k : -1;
        return {out, out};
    };
    return e;
}

// ---- GatherElements, ScatterND, ScatterElements -------------------------------------------------

ops::scatter_reduction reduction_of(const context& c) {
    return choice<ops::scatter_reduction>(c, "reduction", "none",
                                          {{"none", ops::scatter_reduction::none},
                                           {"add", ops::scatter_reduction::add},
                                           {"mul", ops::scatter_reduction::mul},
                                           {"max", ops::scatter_reduction::max},
                                           {"min", ops::scatter_reduction::min}});
}

entry gather_elements_entry() {
    entry e;
    e.path = "ops::gather_elements";
    e.compile = [](const context& c) {
        const auto axis = c.n.get_int("axis", 0);
        return one_output([axis](V in) {
            return ops::gather_elements(required(in, 0, "GatherElements"),
                                        required(in, 1, "GatherElements"), axis);
        });
    };
    e.infer = [](const context& c) { return same_as(c, 1); };
    return e;
}

entry scatter_nd_entry() {
    entry e;
    e.path = "ops::scatter_nd";
    e.compile = [](const context& c) {
        const auto reduction = reduction_of(c);
        return one_output([reduction](V in) {
            return ops::scatter_nd(required(in, 0, "ScatterND"), required(in, 1, "ScatterND"),
                                   required(in, 2, "ScatterND"), reduction);
        });
    };
    e.infer = [](const context& c) { return same_as(c, 0); };
    return e;
}

entry scatter_elements_entry() {
    entry e;
    e.path = "ops::scatter_elements";
    e.compile = [](const context& c) {
        const auto axis = c.n.get_int("axis", 0);
        const auto reduction = reduction_of(c);
        return one_output([axis, reduction](V in) {
            return ops::scatter_elements(required(in, 0, "ScatterElements"),
                                         required(in, 1, "ScatterElements"),
                                         required(in, 2, "ScatterElements"), axis, reduction);
        });
    };
    e.infer = [](const context& c) { return same_as(c, 0); };
    return e;
}

// ---- Size, NonZero, OneHot ----------------------------------------------------------------------

entry size_entry() {
    entry e;
    e.path = "ops::size";
    e.compile = [](const context&) {
        return one_output([](V in) { return ops::size(required(in, 0, "Size")); });
    };
    // A scalar: nothing to infer (an empty vector means "unknown").
    return e;
}

entry nonzero_entry() {
    entry e;
    e.path = "ops::nonzero";
    e.compile = [](const context&) {
        return one_output([](V in) { return ops::nonzero(required(in, 0, "NonZero")); });
    };
    e.infer = [](const context& c) -> std::vector<partial_shape> {
        if (const auto* x = c.shape(0)) return {{static_cast<std::int64_t>(x->size()), -1}};
        return {};
    };
    return e;
}

// OneHot's depth: a scalar or one-element tensor of any numeric dtype (truncated to int64).
std::int64_t depth_of(const_tensor_view v) {
    if (v.numel() != 1)
        fail(status::shape_mismatch,
             fmt::format("OneHot: input 'depth' has shape {}, expected one element",
                         v.dims().to_string()));
    const tensor d = ops::cast(v, dtype::i64);
    return *static_cast<const std::int64_t*>(d.data());
}

entry one_hot_entry() {
    entry e;
    e.path = "ops::one_hot";
    e.compile = [](const context& c) {
        const auto axis = c.n.get_int("axis", -1);
        return one_output([axis](V in) {
            return ops::one_hot(required(in, 0, "OneHot"), depth_of(required(in, 1, "OneHot")),
                                required(in, 2, "OneHot"), axis);
        });
    };
    e.infer = [](const context& c) -> std::vector<partial_shape> {
        const auto* x = c.shape(0);
        if (!x) return {};
        const auto a = static_cast<std::size_t>(
            ops::normalize_axis(c.n.get_int("axis", -1), x->size() + 1, "OneHot"));
        const auto d = c.constant(1);
        auto out = *x;
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(a), d ? depth_of(*d) : -1);
        return {out};
    };
    return e;
}

} // namespace

void add_indexing_ops(table& t) {
    t["Pad"] = pad_entry();
    t["Split"] = split_entry();
    t["Tile"] = tile_entry();
    t["Range"] = range_entry();
    t["Trilu"] = trilu_entry();
    t["TopK"] = topk_entry();
    t["GatherElements"] = gather_elements_entry();
    t["ScatterND"] = scatter_nd_entry();
    t["ScatterElements"] = scatter_elements_entry();
    t["Size"] = size_entry();
    t["NonZero"] = nonzero_entry();
    t["OneHot"] = one_hot_entry();
}

} // namespace hone::op_table
