// LSTM and GRU run through the executor's op table.
#include "hone/core/error.hpp"
#include "op_table.hpp"
#include "ops/recurrent.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

namespace hone::op_table {

namespace {

using V = std::span<const optional_view>;

optional_view input(V in, std::size_t i) { return i < in.size() ? in[i] : std::nullopt; }

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return s;
}

// The attributes shared by LSTM and GRU; refuses what the operators cannot run, naming the
// attribute. `defaults`: the activations per direction hone implements.
ops::rnn_params parse(const context& c, std::initializer_list<const char*> defaults) {
    ops::rnn_params p;
    const auto dir = c.n.get_string("direction", "forward");
    if (dir == "forward")
        p.direction = ops::rnn_direction::forward;
    else if (dir == "reverse")
        p.direction = ops::rnn_direction::reverse;
    else if (dir == "bidirectional")
        p.direction = ops::rnn_direction::bidirectional;
    else
        fail(status::invalid_argument,
             fmt::format("{}: attribute 'direction' is '{}', expected forward, reverse or "
                         "bidirectional",
                         c.label, dir));
    p.layout = c.n.get_int("layout", 0);
    if (p.layout != 0 && p.layout != 1)
        fail(status::invalid_argument,
             fmt::format("{}: attribute 'layout' is {}, expected 0 or 1", c.label, p.layout));
    p.hidden_size = c.n.get_int("hidden_size", 0);
    if (p.hidden_size < 0)
        fail(status::invalid_argument,
             fmt::format("{}: attribute 'hidden_size' is {}", c.label, p.hidden_size));
    if (c.n.has("clip")) {
        p.clip = c.n.get_float("clip", 0.0f);
        if (!(*p.clip > 0.0f))
            fail(status::invalid_argument,
                 fmt::format("{}: attribute 'clip' is {}, expected > 0", c.label, *p.clip));
    }
    if (c.n.has("activations")) {
        const auto& attr = c.n.attributes.at("activations");
        if (attr.type != attribute::kind::strings)
            fail(status::format_error,
                 fmt::format("{}: attribute 'activations' is of kind {}, expected strings", c.label,
                             name_of(attr.type)));
        const auto& acts = attr.strings;
        const std::size_t dirs = p.direction == ops::rnn_direction::bidirectional ? 2 : 1;
        bool ok = acts.size() == defaults.size() * dirs;
        for (std::size_t k = 0; ok && k < acts.size(); ++k)
            ok = lower(acts[k]) == lower(*(defaults.begin() + k % defaults.size()));
        if (!ok)
            fail(status::unsupported,
                 fmt::format("{}: attribute 'activations' [{}] is not supported: only the "
                             "defaults [{}] per direction",
                             c.label, fmt::join(acts, ", "), fmt::join(defaults, ", ")));
    }
    // sequence_lens given as a constant: refuse unequal lengths at load already.
    if (const auto lens = c.constant(4)) {
        const auto* x = c.shape(0);
        const auto s = x && x->size() == 3 ? (*x)[p.layout == 1 ? 1 : 0] : -1;
        const auto v = ops::to_int64_vector(*lens, c.label.c_str(), "sequence_lens");
        if (s >= 0 && std::any_of(v.begin(), v.end(), [s](std::int64_t len) { return len != s; }))
            fail(status::unsupported,
                 fmt::format("{}: input 'sequence_lens' [{}] differs from the sequence length "
                             "{}: sequences of different lengths are not supported",
                             c.label, fmt::join(v, ","), s));
    }
    return p;
}

// Output dims: Y, Y_h (and Y_c), when X's shape is known.
std::vector<partial_shape> infer_rnn(const context& c, std::size_t outputs) {
    const auto* x = c.shape(0);
    if (!x || x->size() != 3) return {};
    const bool batch_first = c.n.get_int("layout", 0) == 1;
    const std::int64_t d = c.n.get_string("direction", "forward") == "bidirectional" ? 2 : 1;
    std::int64_t h = c.n.get_int("hidden_size", -1);
    if (h < 0)
        if (const auto* r = c.shape(2); r && r->size() == 3) h = (*r)[2];
    const auto s = (*x)[batch_first ? 1 : 0], b = (*x)[batch_first ? 0 : 1];
    std::vector<partial_shape> out;
    out.push_back(batch_first ? partial_shape{b, s, d, h} : partial_shape{s, d, b, h});
    const partial_shape state = batch_first ? partial_shape{b, d, h} : partial_shape{d, b, h};
    for (std::size_t k = 1; k < outputs; ++k)
        out.push_back(state);
    return out;
}

// Multiply-accumulates of a run: the input projection and the recurrent products.
double macs_of(const_tensor_view x, const_tensor_view r, const ops::rnn_params& p,
               std::int64_t gates) {
    if (x.rank() != 3 || r.rank() != 3) return 0;
    const auto s = x.dims()[p.layout == 1 ? 1 : 0], b = x.dims()[p.layout == 1 ? 0 : 1];
    return ops::rnn_macs(s, b, x.dims()[2], r.dims()[2], gates, r.dims()[0]);
}

entry lstm_entry() {
    entry e;
    e.path = "ops::lstm";
    e.compile = [](const context& c) {
        const auto p = parse(c, {"Sigmoid", "Tanh", "Tanh"});
        if (c.n.get_int("input_forget", 0) != 0)
            fail(status::unsupported,
                 fmt::format("{}: attribute 'input_forget' = {} (coupled input and forget "
                             "gates) is not supported",
                             c.label, c.n.get_int("input_forget", 0)));
        return kernel([p](V in, double& macs) {
            const auto x = required(in, 0, "LSTM"), r = required(in, 2, "LSTM");
            auto out = ops::lstm(x, required(in, 1, "LSTM"), r, input(in, 3), input(in, 4),
                                 input(in, 5), input(in, 6), input(in, 7), p);
            macs += macs_of(x, r, p, 4);
            return out;
        });
    };
    e.infer = [](const context& c) { return infer_rnn(c, 3); };
    return e;
}

entry gru_entry() {
    entry e;
    e.path = "ops::gru";
    e.compile = [](const context& c) {
        auto p = parse(c, {"Sigmoid", "Tanh"});
        p.linear_before_reset = c.n.get_int("linear_before_reset", 0) != 0;
        return kernel([p](V in, double& macs) {
            const auto x = required(in, 0, "GRU"), r = required(in, 2, "GRU");
            auto out =
                ops::gru(x, required(in, 1, "GRU"), r, input(in, 3), input(in, 4), input(in, 5), p);
            macs += macs_of(x, r, p, 3);
            return out;
        });
    };
    e.infer = [](const context& c) { return infer_rnn(c, 2); };
    return e;
}

} // namespace

void add_recurrent_ops(table& t) {
    t["LSTM"] = lstm_entry();
    t["GRU"] = gru_entry();
}

} // namespace hone::op_table
