// LSTM and GRU against a plain reference recurrence written here from the ONNX equations (in
// double), directly and through hone::executor on small hand-built models.
#include "../../src/graph/ops/recurrent.hpp"
#include "ops_test_util.hpp"

#include <hone/core/threads.hpp>
#include <hone/graph/executor.hpp>
#include <hone/model/model.hpp>

#include <map>
#include <optional>

// executor_options are given as designated initializers naming only what a test changes.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ops = hone::ops;
using namespace ops_test;
using hone::dtype;
using hone::shape;
using hone::status;
using hone::tensor;
using dir_t = ops::rnn_direction;

namespace {

// ---- reference (ONNX operator documentation, layout 0, double precision) ------------------------

struct ref_out {
    std::vector<double> y, yh, yc; // [S, D, B, H], [D, B, H], [D, B, H]
};

std::size_t sz(std::int64_t v) { return static_cast<std::size_t>(v); }

double sigm(double v) { return 1.0 / (1.0 + std::exp(-v)); }

struct ref_in {
    const tensor* x = nullptr;
    const tensor* w = nullptr;
    const tensor* r = nullptr;
    const tensor* b = nullptr;
    const tensor* h0 = nullptr;
    const tensor* c0 = nullptr;
    const tensor* p = nullptr;
    dir_t dir = dir_t::forward;
    std::optional<double> clip;
    bool lbr = false;
};

// LSTM (gates i, o, f, c) or GRU (z, r, h) in the most direct form.
ref_out reference(const ref_in& a, bool lstm) {
    const auto X = a.x->span<float>(), W = a.w->span<float>(), R = a.r->span<float>();
    const std::int64_t S = a.x->dims()[0], B = a.x->dims()[1], I = a.x->dims()[2];
    const std::int64_t H = a.r->dims()[2], D = a.dir == dir_t::bidirectional ? 2 : 1;
    const std::int64_t G = lstm ? 4 : 3;
    auto cl = [&](double v) { return a.clip ? std::clamp(v, -*a.clip, *a.clip) : v; };
    auto wb = [&](std::int64_t d, std::int64_t row) {
        return a.b ? double(a.b->span<float>()[sz(d * 2 * G * H + row)]) : 0.0;
    };
    auto rb = [&](std::int64_t d, std::int64_t row) {
        return a.b ? double(a.b->span<float>()[sz(d * 2 * G * H + G * H + row)]) : 0.0;
    };
    auto peep = [&](std::int64_t d, std::int64_t k) {
        return a.p ? double(a.p->span<float>()[sz(d * 3 * H + k)]) : 0.0;
    };
    // Xt·W[row]ᵀ and v·R[row]ᵀ for direction d.
    auto xw = [&](std::int64_t d, std::int64_t t, std::int64_t b, std::int64_t row) {
        double s = 0;
        for (std::int64_t k = 0; k < I; ++k)
            s += double(X[sz((t * B + b) * I + k)]) * W[sz((d * G * H + row) * I + k)];
        return s;
    };
    auto vr = [&](std::int64_t d, const std::vector<double>& v, std::int64_t row) {
        double s = 0;
        for (std::int64_t k = 0; k < H; ++k)
            s += v[sz(k)] * R[sz((d * G * H + row) * H + k)];
        return s;
    };
    ref_out out;
    out.y.assign(sz(S * D * B * H), 0.0);
    out.yh.assign(sz(D * B * H), 0.0);
    out.yc.assign(sz(D * B * H), 0.0);
    for (std::int64_t d = 0; d < D; ++d) {
        const bool backward = a.dir == dir_t::reverse || d == 1;
        std::vector<std::vector<double>> h(sz(B), std::vector<double>(sz(H))), c = h;
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t j = 0; j < H; ++j) {
                const auto at = sz((d * B + b) * H + j);
                if (a.h0) h[sz(b)][sz(j)] = a.h0->span<float>()[at];
                if (a.c0) c[sz(b)][sz(j)] = a.c0->span<float>()[at];
            }
        for (std::int64_t step = 0; step < S; ++step) {
            const std::int64_t t = backward ? S - 1 - step : step;
            auto hn = h, cn = c;
            for (std::int64_t b = 0; b < B; ++b) {
                const auto& hp = h[sz(b)];
                std::vector<double> rgate(sz(H)), zgate(sz(H));
                for (std::int64_t j = 0; j < H; ++j) {
                    auto gate = [&](std::int64_t g) {
                        return xw(d, t, b, g * H + j) + vr(d, hp, g * H + j) + wb(d, g * H + j) +
                               rb(d, g * H + j);
                    };
                    if (lstm) {
                        const double cp = c[sz(b)][sz(j)];
                        const double i = sigm(cl(gate(0) + peep(d, j) * cp));
                        const double f = sigm(cl(gate(2) + peep(d, 2 * H + j) * cp));
                        const double cc = std::tanh(cl(gate(3)));
                        const double C = f * cp + i * cc;
                        const double o = sigm(cl(gate(1) + peep(d, H + j) * C));
                        cn[sz(b)][sz(j)] = C;
                        hn[sz(b)][sz(j)] = o * std::tanh(cl(C));
                    } else {
                        zgate[sz(j)] = sigm(cl(gate(0)));
                        rgate[sz(j)] = sigm(cl(gate(1)));
                    }
                }
                if (!lstm) {
                    std::vector<double> rh(sz(H));
                    for (std::int64_t k = 0; k < H; ++k)
                        rh[sz(k)] = rgate[sz(k)] * hp[sz(k)];
                    for (std::int64_t j = 0; j < H; ++j) {
                        const std::int64_t row = 2 * H + j;
                        const double pre =
                            a.lbr ? xw(d, t, b, row) + wb(d, row) +
                                        rgate[sz(j)] * (vr(d, hp, row) + rb(d, row))
                                  : xw(d, t, b, row) + vr(d, rh, row) + rb(d, row) + wb(d, row);
                        const double hh = std::tanh(cl(pre));
                        const double z = zgate[sz(j)];
                        hn[sz(b)][sz(j)] = (1 - z) * hh + z * hp[sz(j)];
                    }
                }
            }
            h = hn;
            c = cn;
            for (std::int64_t b = 0; b < B; ++b)
                for (std::int64_t j = 0; j < H; ++j)
                    out.y[sz(((t * D + d) * B + b) * H + j)] = h[sz(b)][sz(j)];
        }
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t j = 0; j < H; ++j) {
                out.yh[sz((d * B + b) * H + j)] = h[sz(b)][sz(j)];
                out.yc[sz((d * B + b) * H + j)] = c[sz(b)][sz(j)];
            }
    }
    return out;
}

void check_near(const tensor& got, const std::vector<double>& want, double tol = 2e-5) {
    REQUIRE(got.numel() == static_cast<std::int64_t>(want.size()));
    const auto g = got.span<float>();
    for (std::size_t i = 0; i < want.size(); ++i)
        if (std::fabs(double(g[i]) - want[i]) > tol)
            FAIL_CHECK("element ", i, ": ", g[i], " vs reference ", want[i]);
}

// Random operands for one configuration; weights scaled so the gates are not saturated.
struct operands {
    tensor x, w, r, b, h0, c0, p;
    operands(std::int64_t S, std::int64_t B, std::int64_t I, std::int64_t H, std::int64_t D,
             std::int64_t G, unsigned seed) {
        auto scaled = [](const shape& dims, unsigned s, float k) {
            auto v = randn(static_cast<std::size_t>(dims.numel()), s);
            for (auto& e : v)
                e *= k;
            return f32(dims, v);
        };
        x = random_f32({S, B, I}, seed);
        w = scaled({D, G * H, I}, seed + 1, 0.5f);
        r = scaled({D, G * H, H}, seed + 2, 0.5f);
        b = scaled({D, 2 * G * H}, seed + 3, 0.3f);
        h0 = random_f32({D, B, H}, seed + 4);
        c0 = random_f32({D, B, H}, seed + 5);
        p = scaled({D, 3 * H}, seed + 6, 0.5f);
    }
};

// [S, B, ...] → [B, S, ...] (and [D, B, H] → [B, D, H]): swaps the first two dims.
tensor swap01(const tensor& t) {
    std::vector<std::int64_t> perm(t.dims().rank());
    for (std::size_t i = 0; i < perm.size(); ++i)
        perm[i] = static_cast<std::int64_t>(i);
    std::swap(perm[0], perm[1]);
    return ops::transpose(t, perm);
}

const char* name_of(dir_t d) {
    return d == dir_t::forward ? "forward" : d == dir_t::reverse ? "reverse" : "bidirectional";
}

} // namespace

// ---- direct -------------------------------------------------------------------------------------

TEST_CASE("lstm and gru: hand-computed values with zero weights") {
    // All gates see 0: i = f = o = 1/2, candidate tanh(0) = 0, so C halves each step and
    // H = tanh(C) / 2.
    const auto x = f32({2, 1, 1}, {0.3f, -0.7f});
    const auto w = f32({1, 4, 1}, {0, 0, 0, 0}), r = w.clone();
    const auto h0 = f32({1, 1, 1}, {0}), c0 = f32({1, 1, 1}, {1});
    const auto out = ops::lstm(x, w, r, std::nullopt, std::nullopt, h0.view(), c0.view());
    REQUIRE(out.size() == 3);
    check_values(out[0], {2, 1, 1, 1}, {0.5f * std::tanh(0.5f), 0.5f * std::tanh(0.25f)});
    check_values(out[1], {1, 1, 1}, {0.5f * std::tanh(0.25f)});
    check_values(out[2], {1, 1, 1}, {0.25f});
    // GRU: z = r = 1/2, candidate 0, so H halves each step.
    const auto gw = f32({1, 3, 1}, {0, 0, 0}), gr = gw.clone();
    const auto g = ops::gru(x, gw, gr, std::nullopt, std::nullopt, c0.view());
    REQUIRE(g.size() == 2);
    check_values(g[0], {2, 1, 1, 1}, {0.5f, 0.25f});
    check_values(g[1], {1, 1, 1}, {0.25f});
    // A zero-length sequence leaves the initial states.
    const auto none =
        ops::lstm(f32({0, 1, 1}, {}), w, r, std::nullopt, std::nullopt, h0.view(), c0.view());
    CHECK(none[0].dims() == shape{0, 1, 1, 1});
    check_values(none[2], {1, 1, 1}, {1});
}

TEST_CASE("lstm: random data against the reference, every direction, with and without options") {
    const std::int64_t S = 5, B = 3, I = 4, H = 6;
    for (const auto dir : {dir_t::forward, dir_t::reverse, dir_t::bidirectional})
        for (int variant = 0; variant < 3; ++variant) {
            const std::string where =
                std::string(name_of(dir)) + " variant " + std::to_string(variant);
            CAPTURE(where);
            const std::int64_t D = dir == dir_t::bidirectional ? 2 : 1;
            const operands o(S, B, I, H, D, 4, 100 + static_cast<unsigned>(variant));
            // 0: no optional inputs; 1: bias and initial states; 2: all, peepholes and clip.
            ref_in a{&o.x, &o.w, &o.r};
            a.dir = dir;
            if (variant >= 1) a.b = &o.b, a.h0 = &o.h0, a.c0 = &o.c0;
            if (variant == 2) a.p = &o.p, a.clip = 0.9;
            const auto want = reference(a, true);
            ops::rnn_params p;
            p.direction = dir;
            if (a.clip) p.clip = static_cast<float>(*a.clip);
            auto opt = [](const tensor* t) -> ops::optional_view {
                return t ? ops::optional_view(t->view()) : std::nullopt;
            };
            const auto got =
                ops::lstm(o.x, o.w, o.r, opt(a.b), std::nullopt, opt(a.h0), opt(a.c0), opt(a.p), p);
            CHECK(got[0].dims() == shape{S, D, B, H});
            CHECK(got[1].dims() == shape{D, B, H});
            check_near(got[0], want.y);
            check_near(got[1], want.yh);
            check_near(got[2], want.yc);
        }
}

TEST_CASE("lstm and gru: layout 1 gives the layout-0 numbers with the batch first") {
    const std::int64_t S = 4, B = 3, I = 5, H = 4, D = 2;
    const operands o(S, B, I, H, D, 4, 7);
    ops::rnn_params p;
    p.direction = dir_t::bidirectional;
    const auto y0 =
        ops::lstm(o.x, o.w, o.r, o.b.view(), std::nullopt, o.h0.view(), o.c0.view(), o.p.view(), p);
    p.layout = 1;
    const auto xb = swap01(o.x), hb = swap01(o.h0), cb = swap01(o.c0);
    const auto y1 =
        ops::lstm(xb, o.w, o.r, o.b.view(), std::nullopt, hb.view(), cb.view(), o.p.view(), p);
    REQUIRE(y1[0].dims() == shape{B, S, D, H});
    REQUIRE(y1[1].dims() == shape{B, D, H});
    // Y [S, D, B, H] vs [B, S, D, H].
    for (std::int64_t t = 0; t < S; ++t)
        for (std::int64_t d = 0; d < D; ++d)
            for (std::int64_t b = 0; b < B; ++b)
                for (std::int64_t j = 0; j < H; ++j)
                    CHECK(y1[0].view().at<float>({b, t, d, j}) ==
                          y0[0].view().at<float>({t, d, b, j}));
    CHECK(values<float>(y1[1]) == values<float>(swap01(y0[1])));
    CHECK(values<float>(y1[2]) == values<float>(swap01(y0[2])));

    const operands g(S, B, I, H, D, 3, 8);
    p.layout = 0;
    p.linear_before_reset = true;
    const auto g0 = ops::gru(g.x, g.w, g.r, g.b.view(), std::nullopt, g.h0.view(), p);
    p.layout = 1;
    const auto gxb = swap01(g.x), ghb = swap01(g.h0);
    const auto g1 = ops::gru(gxb, g.w, g.r, g.b.view(), std::nullopt, ghb.view(), p);
    CHECK(values<float>(g1[0]) ==
          values<float>(ops::transpose(g0[0], std::vector<std::int64_t>{2, 0, 1, 3})));
    CHECK(values<float>(g1[1]) == values<float>(swap01(g0[1])));
}

TEST_CASE("gru: random data against the reference, both linear_before_reset, every direction") {
    const std::int64_t S = 6, B = 2, I = 3, H = 5;
    for (const auto dir : {dir_t::forward, dir_t::reverse, dir_t::bidirectional})
        for (const bool lbr : {false, true})
            for (const bool options : {false, true}) {
                const std::string where = std::string(name_of(dir)) + " lbr " +
                                          std::to_string(lbr) + " options " +
                                          std::to_string(options);
                CAPTURE(where);
                const std::int64_t D = dir == dir_t::bidirectional ? 2 : 1;
                const operands o(S, B, I, H, D, 3, 200 + (lbr ? 10u : 0u) + (options ? 1u : 0u));
                ref_in a{&o.x, &o.w, &o.r};
                a.dir = dir;
                a.lbr = lbr;
                if (options) a.b = &o.b, a.h0 = &o.h0, a.clip = 1.1;
                const auto want = reference(a, false);
                ops::rnn_params p;
                p.direction = dir;
                p.linear_before_reset = lbr;
                if (a.clip) p.clip = static_cast<float>(*a.clip);
                const auto got =
                    options ? ops::gru(o.x, o.w, o.r, o.b.view(), std::nullopt, o.h0.view(), p)
                            : ops::gru(o.x, o.w, o.r, std::nullopt, std::nullopt, std::nullopt, p);
                CHECK(got[0].dims() == shape{S, D, B, H});
                check_near(got[0], want.y);
                check_near(got[1], want.yh);
            }
}

TEST_CASE("lstm and gru: sequence_lens, shape and dtype errors name the operator and input") {
    const operands o(3, 2, 4, 5, 1, 4, 9);
    const auto ref = ops::lstm(o.x, o.w, o.r, o.b.view());
    // Lengths all equal to S: the same result.
    const auto full = i64({2}, {3, 3});
    CHECK(values<float>(ops::lstm(o.x, o.w, o.r, o.b.view(), full.view())[0]) ==
          values<float>(ref[0]));
    const auto lens = make<std::int32_t>({2}, {3, 2});
    auto msg = error_of([&] { (void)ops::lstm(o.x, o.w, o.r, o.b.view(), lens.view()); },
                        status::unsupported);
    CHECK(msg.find("ops::lstm") != std::string::npos);
    CHECK(msg.find("sequence_lens") != std::string::npos);
    msg = error_of([&] { (void)ops::lstm(o.x, o.r, o.r); }, status::shape_mismatch);
    CHECK(msg.find("'W'") != std::string::npos);
    msg = error_of([&] { (void)ops::lstm(o.x, o.w, o.r, o.w.view()); }, status::shape_mismatch);
    CHECK(msg.find("'B'") != std::string::npos);
    msg = error_of([&] { (void)ops::lstm(o.x, o.w, o.r, std::nullopt, std::nullopt, o.p.view()); },
                   status::shape_mismatch);
    CHECK(msg.find("initial_h") != std::string::npos);
    ops::rnn_params p;
    p.hidden_size = 4;
    msg = error_of(
        [&] {
            (void)ops::lstm(o.x, o.w, o.r, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                            std::nullopt, p);
        },
        status::shape_mismatch);
    CHECK(msg.find("hidden_size") != std::string::npos);
    p = {};
    p.direction = dir_t::bidirectional; // W has one direction
    error_of(
        [&] {
            (void)ops::lstm(o.x, o.w, o.r, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                            std::nullopt, p);
        },
        status::shape_mismatch);
    const auto ints = i64({3, 2, 4}, std::vector<std::int64_t>(24, 1));
    msg = error_of([&] { (void)ops::gru(ints, o.w, o.r); }, status::dtype_mismatch);
    CHECK(msg.find("ops::gru") != std::string::npos);
    // GRU takes [D, 3H, ...] weights: LSTM's are refused.
    error_of([&] { (void)ops::gru(o.x, o.w, o.r); }, status::shape_mismatch);
}

TEST_CASE("lstm and gru: results do not depend on the thread count") {
    // B·4H·H = 8·192·48 multiply-adds per step: enough for the parallel loops to engage.
    const std::int64_t S = 5, B = 8, I = 20, H = 48, D = 2;
    const operands l(S, B, I, H, D, 4, 31), g(S, B, I, H, D, 3, 32);
    ops::rnn_params p;
    p.direction = dir_t::bidirectional;
    auto run_all = [&] {
        std::vector<tensor> r;
        for (auto& t : ops::lstm(l.x, l.w, l.r, l.b.view(), std::nullopt, l.h0.view(), l.c0.view(),
                                 l.p.view(), p))
            r.push_back(std::move(t));
        for (const bool lbr : {false, true}) {
            auto q = p;
            q.linear_before_reset = lbr;
            for (auto& t : ops::gru(g.x, g.w, g.r, g.b.view(), std::nullopt, g.h0.view(), q))
                r.push_back(std::move(t));
        }
        return r;
    };
    const int before = hone::num_threads();
    hone::set_num_threads(1);
    const auto one = run_all();
    hone::set_num_threads(4);
    const auto four = run_all();
    hone::set_num_threads(before);
    REQUIRE(one.size() == four.size());
    for (std::size_t k = 0; k < one.size(); ++k) {
        CAPTURE(k);
        REQUIRE(one[k].nbytes() == four[k].nbytes());
        CHECK(std::memcmp(one[k].data(), four[k].data(), one[k].nbytes()) == 0);
    }
}

// ---- through the executor -----------------------------------------------------------------------

namespace {

hone::node make_node(std::string name, std::string op, std::vector<std::string> in,
                     std::vector<std::string> out) {
    hone::node n;
    n.name = std::move(name);
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

// X [S (dynamic), B, I] → LSTM (bidirectional, W, R, B, P constant; initial states inputs).
hone::model lstm_model(const operands& o, std::int64_t B, std::int64_t I, std::int64_t H) {
    using hone::attribute;
    hone::model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "S"}, {B, ""}, {I, ""}}, true});
    m.inputs.push_back({"h0", dtype::f32, {{2, ""}, {B, ""}, {H, ""}}, true});
    m.inputs.push_back({"c0", dtype::f32, {{2, ""}, {B, ""}, {H, ""}}, true});
    m.set_weight("w", o.w.clone());
    m.set_weight("r", o.r.clone());
    m.set_weight("b", o.b.clone());
    m.set_weight("p", o.p.clone());
    auto n =
        make_node("lstm", "LSTM", {"x", "w", "r", "b", "", "h0", "c0", "p"}, {"y", "yh", "yc"});
    n.attributes["direction"] = attribute::of_string("bidirectional");
    n.attributes["hidden_size"] = attribute::of_int(H);
    m.nodes.push_back(n);
    m.nodes.push_back(make_node("shape_yh", "Shape", {"yh"}, {"s"}));
    for (const char* out : {"y", "yh", "yc", "s"})
        m.outputs.push_back({out, dtype::f32, {}, false});
    m.outputs[3].type = dtype::i64;
    return m;
}

} // namespace

TEST_CASE("executor: a bidirectional LSTM with peepholes and initial states") {
    const std::int64_t S = 4, B = 2, I = 3, H = 5;
    const operands o(S, B, I, H, 2, 4, 50);
    hone::executor ex(lstm_model(o, B, I, H));
    std::map<std::string, std::string> path;
    for (const auto& r : ex.report())
        path[r.node] = r.path;
    CHECK(path["lstm"] == "ops::lstm");
    CHECK(path["shape_yh"].find("folded") == 0); // Y_h [2, B, H] is known at load
    const std::vector<hone::const_tensor_view> in{o.x.view(), o.h0.view(), o.c0.view()};
    const auto y = ex.run(std::span<const hone::const_tensor_view>(in));
    ref_in a{&o.x, &o.w, &o.r, &o.b, &o.h0, &o.c0, &o.p, dir_t::bidirectional};
    const auto want = reference(a, true);
    check_near(y[0], want.y);
    check_near(y[1], want.yh);
    check_near(y[2], want.yc);
    CHECK(values<std::int64_t>(y[3]) == std::vector<std::int64_t>{2, B, H});
    // ops per sample = 2 · MACs / X.dims[0]; MACs = D·S·B·4H·(I + H).
    CHECK(ex.ops_per_sample() == doctest::Approx(2.0 * 2 * S * B * 4 * H * (I + H) / S));
}

TEST_CASE("executor: a reverse GRU (linear_before_reset) with only Y_h, sequence_lens as input") {
    using hone::attribute;
    const std::int64_t S = 5, B = 3, I = 4, H = 3;
    const operands o(S, B, I, H, 1, 3, 60);
    hone::model m;
    m.inputs.push_back({"x", dtype::f32, {{S, ""}, {B, ""}, {I, ""}}, true});
    m.inputs.push_back({"lens", dtype::i32, {{B, ""}}, true});
    m.set_weight("w", o.w.clone());
    m.set_weight("r", o.r.clone());
    m.set_weight("b", o.b.clone());
    auto n = make_node("gru", "GRU", {"x", "w", "r", "b", "lens"}, {"", "yh"});
    n.attributes["direction"] = attribute::of_string("reverse");
    n.attributes["linear_before_reset"] = attribute::of_int(1);
    n.attributes["activations"] = attribute::of_strings({"Sigmoid", "Tanh"});
    m.nodes.push_back(n);
    m.outputs.push_back({"yh", dtype::f32, {}, false});
    hone::executor ex(m);
    const auto lens = make<std::int32_t>({B}, {S, S, S});
    std::vector<hone::const_tensor_view> in{o.x.view(), lens.view()};
    const auto y = ex.run(std::span<const hone::const_tensor_view>(in));
    REQUIRE(y.size() == 1);
    ref_in a{&o.x, &o.w, &o.r, &o.b};
    a.dir = dir_t::reverse;
    a.lbr = true;
    check_near(y[0], reference(a, false).yh);
    // Unequal lengths at run time: an error naming the node and the input.
    const auto short_lens = make<std::int32_t>({B}, {S, 2, S});
    in[1] = short_lens.view();
    CHECK_THROWS_WITH_AS(ex.run(std::span<const hone::const_tensor_view>(in)),
                         doctest::Contains("GRU 'gru'"), hone::error);
    CHECK_THROWS_WITH_AS(ex.run(std::span<const hone::const_tensor_view>(in)),
                         doctest::Contains("sequence_lens"), hone::error);
}

TEST_CASE("executor: LSTM/GRU attributes hone cannot run are refused at load, naming them") {
    using hone::attribute;
    const std::int64_t S = 2, B = 1, I = 2, H = 2;
    const operands o(S, B, I, H, 1, 4, 70);
    auto load_error = [&](const char* attr, attribute value, bool constant_lens = false) {
        hone::model m;
        m.inputs.push_back({"x", dtype::f32, {{S, ""}, {B, ""}, {I, ""}}, true});
        m.set_weight("w", o.w.clone());
        m.set_weight("r", o.r.clone());
        m.set_weight("lens", make<std::int32_t>({B}, {1}));
        auto n = make_node("cell", "LSTM", {"x", "w", "r", "", constant_lens ? "lens" : ""}, {"y"});
        if (attr) n.attributes[attr] = std::move(value);
        m.nodes.push_back(n);
        m.outputs.push_back({"y", dtype::f32, {}, false});
        try {
            hone::executor ex(m);
        } catch (const hone::error& e) {
            return std::pair<status, std::string>(e.code(), e.what());
        }
        return std::pair<status, std::string>(status::ok, "");
    };
    auto e = load_error("activations", attribute::of_strings({"Sigmoid", "Relu", "Tanh"}));
    CHECK(e.first == status::unsupported);
    CHECK(e.second.find("LSTM 'cell'") != std::string::npos);
    CHECK(e.second.find("'activations'") != std::string::npos);
    e = load_error("input_forget", attribute::of_int(1));
    CHECK(e.first == status::unsupported);
    CHECK(e.second.find("'input_forget'") != std::string::npos);
    e = load_error("direction", attribute::of_string("sideways"));
    CHECK(e.first == status::invalid_argument);
    CHECK(e.second.find("'direction'") != std::string::npos);
    e = load_error("layout", attribute::of_int(2));
    CHECK(e.second.find("'layout'") != std::string::npos);
    e = load_error("clip", attribute::of_float(-1.0f));
    CHECK(e.second.find("'clip'") != std::string::npos);
    e = load_error(nullptr, {}, true); // a constant length 1 for a sequence of 2
    CHECK(e.first == status::unsupported);
    CHECK(e.second.find("'sequence_lens'") != std::string::npos);
    // The default activations spelled out are accepted (any case, as ONNX Runtime).
    e = load_error("activations", attribute::of_strings({"sigmoid", "Tanh", "TANH"}));
    CHECK(e.first == status::ok);
}
