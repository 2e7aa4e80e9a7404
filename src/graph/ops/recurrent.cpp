// ONNX LSTM and GRU (see recurrent.hpp).
#include "recurrent.hpp"

#include "../../quantize/quant_common.hpp" // detail::matmul_rows
#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/ranges.h>

namespace hone::ops {

namespace {

using detail::contiguous_f32;
using detail::require_f32;

enum class cell { lstm, gru };

// Dims and memory layout shared by both operators.
struct rnn_dims {
    std::int64_t s = 0, b = 0, i = 0, h = 0, d = 1, g = 4;
    bool batch_first = false;
    // Row of X (and of the input projection) for step t and batch entry n.
    std::int64_t x_row(std::int64_t t, std::int64_t n) const {
        return batch_first ? n * s + t : t * b + n;
    }
    // Offset of Y[t, dir, n, :] (layout 0) or Y[n, t, dir, :] (layout 1).
    std::int64_t y_at(std::int64_t t, std::int64_t dir, std::int64_t n) const {
        return (batch_first ? (n * s + t) * d + dir : (t * d + dir) * b + n) * h;
    }
    // Offset of a state [dir, n, :] (layout 0) or [n, dir, :] (layout 1).
    std::int64_t state_at(std::int64_t dir, std::int64_t n) const {
        return (batch_first ? n * d + dir : dir * b + n) * h;
    }
    shape state_shape() const { return batch_first ? shape{b, d, h} : shape{d, b, h}; }
};

void expect_dims(const_tensor_view v, const shape& want, const char* op, const char* what) {
    if (v.dims() != want)
        fail(status::shape_mismatch, fmt::format("{}: input '{}' has shape {}, expected {}", op,
                                                 what, v.dims().to_string(), want.to_string()));
}

rnn_dims check_inputs(cell kind, const_tensor_view x, const_tensor_view w, const_tensor_view r,
                      optional_view bias, optional_view lens, optional_view h0, optional_view c0,
                      optional_view p, const rnn_params& params, const char* op) {
    rnn_dims d;
    d.g = kind == cell::lstm ? 4 : 3;
    d.d = params.direction == rnn_direction::bidirectional ? 2 : 1;
    if (params.layout != 0 && params.layout != 1)
        fail(status::invalid_argument,
             fmt::format("{}: layout {} is not 0 or 1", op, params.layout));
    d.batch_first = params.layout == 1;
    require_f32(x, op, "X");
    require_f32(w, op, "W");
    require_f32(r, op, "R");
    detail::require_rank(x, 3, op, "X");
    detail::require_rank(r, 3, op, "R");
    d.s = x.dims()[d.batch_first ? 1 : 0];
    d.b = x.dims()[d.batch_first ? 0 : 1];
    d.i = x.dims()[2];
    d.h = r.dims()[2];
    if (params.hidden_size != 0 && params.hidden_size != d.h)
        fail(status::shape_mismatch, fmt::format("{}: hidden_size {} disagrees with R {}", op,
                                                 params.hidden_size, r.dims().to_string()));
    const std::int64_t gh = d.g * d.h;
    expect_dims(w, shape{d.d, gh, d.i}, op, "W");
    expect_dims(r, shape{d.d, gh, d.h}, op, "R");
    if (bias) {
        require_f32(*bias, op, "B");
        expect_dims(*bias, shape{d.d, 2 * gh}, op, "B");
    }
    if (h0) {
        require_f32(*h0, op, "initial_h");
        expect_dims(*h0, d.state_shape(), op, "initial_h");
    }
    if (c0) {
        require_f32(*c0, op, "initial_c");
        expect_dims(*c0, d.state_shape(), op, "initial_c");
    }
    if (p) {
        require_f32(*p, op, "P");
        expect_dims(*p, shape{d.d, 3 * d.h}, op, "P");
    }
    if (lens) {
        const auto v = to_int64_vector(*lens, op, "sequence_lens");
        if (static_cast<std::int64_t>(v.size()) != d.b)
            fail(status::shape_mismatch,
                 fmt::format("{}: sequence_lens has {} values for a batch of {}", op, v.size(),
                             d.b));
        for (const auto len : v)
            if (len != d.s)
                fail(status::unsupported,
                     fmt::format("{}: sequence_lens [{}] differ from the sequence length {}: "
                                 "sequences of different lengths are not supported",
                                 op, fmt::join(v, ","), d.s));
    }
    if (params.clip && !(*params.clip > 0.0f))
        fail(status::invalid_argument, fmt::format("{}: clip {} is not > 0", op, *params.clip));
    return d;
}

float sigmoid(float v) {
    if (v >= 0) return 1.0f / (1.0f + std::exp(-v));
    const float e = std::exp(v);
    return e / (1.0f + e);
}

// Reads a state (initial_h/c) of direction `dir` into [B, H], zeros when absent.
void load_state(optional_view src, const rnn_dims& d, std::int64_t dir, std::vector<float>& dst) {
    dst.assign(static_cast<std::size_t>(d.b * d.h), 0.0f);
    if (!src) return;
    const contiguous_f32 s(*src);
    for (std::int64_t n = 0; n < d.b; ++n)
        std::copy_n(s.data + d.state_at(dir, n), d.h, dst.data() + n * d.h);
}

std::vector<tensor> run(cell kind, const_tensor_view x, const_tensor_view w, const_tensor_view r,
                        optional_view bias, optional_view lens, optional_view h0, optional_view c0,
                        optional_view p, const rnn_params& params, const char* op) {
    const rnn_dims d = check_inputs(kind, x, w, r, bias, lens, h0, c0, p, params, op);
    const std::int64_t gh = d.g * d.h, S = d.s, B = d.b, H = d.h;
    std::vector<tensor> out;
    out.emplace_back(dtype::f32, d.batch_first ? shape{B, S, d.d, H} : shape{S, d.d, B, H});
    out.emplace_back(dtype::f32, d.state_shape());
    if (kind == cell::lstm) out.emplace_back(dtype::f32, d.state_shape());
    auto* y = static_cast<float*>(out[0].data());
    auto* yh = static_cast<float*>(out[1].data());
    auto* yc = kind == cell::lstm ? static_cast<float*>(out[2].data()) : nullptr;

    const contiguous_f32 xs(x), ws(w), rs(r);
    std::optional<contiguous_f32> bs, ps;
    if (bias) bs.emplace(*bias);
    if (p) ps.emplace(*p);
    const float lim = params.clip.value_or(0.0f);
    const bool clipping = params.clip.has_value();
    auto clip = [lim, clipping](float v) { return clipping ? std::clamp(v, -lim, lim) : v; };
    const bool lbr = params.linear_before_reset;

    std::vector<float> proj(static_cast<std::size_t>(S * B * gh));
    std::vector<float> h_prev, c_prev, h_next(static_cast<std::size_t>(B * H)),
        c_next(static_cast<std::size_t>(B * H)), z_gate, rh;
    if (kind == cell::gru && !lbr) {
        z_gate.resize(static_cast<std::size_t>(B * H));
        rh.resize(static_cast<std::size_t>(B * H));
    }
    for (std::int64_t dir = 0; dir < d.d; ++dir) {
        const bool backward = params.direction == rnn_direction::reverse || dir == 1;
        const float* wd = ws.data + dir * gh * d.i;
        const float* rd = rs.data + dir * gh * H;
        const float* wb = bs ? bs->data + dir * 2 * gh : nullptr; // W biases, then R biases
        const float* rb = bs ? wb + gh : nullptr;
        const float* pd = ps ? ps->data + dir * 3 * H : nullptr; // peepholes i, o, f
        // Input projection of every step at once; then the biases that add outside the gates'
        // products (GRU with linear_before_reset keeps Rbh for inside the reset product).
        hone::detail::matmul_rows(xs.data, wd, proj.data(), S * B, d.i, gh);
        if (bs) {
            std::vector<float> add(static_cast<std::size_t>(gh));
            for (std::int64_t k = 0; k < gh; ++k)
                add[static_cast<std::size_t>(k)] =
                    wb[k] + (kind == cell::gru && lbr && k >= 2 * H ? 0.0f : rb[k]);
            for (std::int64_t row = 0; row < S * B; ++row)
                for (std::int64_t k = 0; k < gh; ++k)
                    proj[static_cast<std::size_t>(row * gh + k)] +=
                        add[static_cast<std::size_t>(k)];
        }
        load_state(h0, d, dir, h_prev);
        if (kind == cell::lstm) load_state(c0, d, dir, c_prev);
        const int threads = detail::threads_for(B * gh * H);
        // Σ_k v[k]·R[row, k] in double.
        auto dot = [&](const float* v, std::int64_t row) {
            const float* rr = rd + row * H;
            double acc = 0;
            for (std::int64_t k = 0; k < H; ++k)
                acc += static_cast<double>(v[k]) * rr[k];
            return acc;
        };
        for (std::int64_t step = 0; step < S; ++step) {
            const std::int64_t t = backward ? S - 1 - step : step;
            if (kind == cell::lstm) {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
                for (std::int64_t bj = 0; bj < B * H; ++bj) {
                    const std::int64_t n = bj / H, j = bj % H;
                    const float* xp = proj.data() + d.x_row(t, n) * gh;
                    const float* hp = h_prev.data() + n * H;
                    const float cp = c_prev[static_cast<std::size_t>(bj)];
                    double a[4];
                    for (std::int64_t g = 0; g < 4; ++g)
                        a[g] = xp[g * H + j] + dot(hp, g * H + j);
                    if (pd) {
                        a[0] += static_cast<double>(pd[j]) * cp;         // i
                        a[2] += static_cast<double>(pd[2 * H + j]) * cp; // f
                    }
                    const float ig = sigmoid(clip(static_cast<float>(a[0])));
                    const float fg = sigmoid(clip(static_cast<float>(a[2])));
                    const float cg = std::tanh(clip(static_cast<float>(a[3])));
                    const float c = fg * cp + ig * cg;
                    if (pd) a[1] += static_cast<double>(pd[H + j]) * c; // o sees the new cell
                    const float og = sigmoid(clip(static_cast<float>(a[1])));
                    c_next[static_cast<std::size_t>(bj)] = c;
                    h_next[static_cast<std::size_t>(bj)] = og * std::tanh(clip(c));
                }
                std::swap(c_prev, c_next);
            } else if (lbr) {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
                for (std::int64_t bj = 0; bj < B * H; ++bj) {
                    const std::int64_t n = bj / H, j = bj % H;
                    const float* xp = proj.data() + d.x_row(t, n) * gh;
                    const float* hp = h_prev.data() + n * H;
                    const float z = sigmoid(clip(static_cast<float>(xp[j] + dot(hp, j))));
                    const float rg = sigmoid(clip(static_cast<float>(xp[H + j] + dot(hp, H + j))));
                    const double rec = dot(hp, 2 * H + j) + (rb ? rb[2 * H + j] : 0.0f);
                    const float hh = std::tanh(clip(static_cast<float>(xp[2 * H + j] + rg * rec)));
                    h_next[static_cast<std::size_t>(bj)] = (1.0f - z) * hh + z * hp[j];
                }
            } else {
                // The candidate needs r⊙H of every unit: gates first, then the candidate.
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
                for (std::int64_t bj = 0; bj < B * H; ++bj) {
                    const std::int64_t n = bj / H, j = bj % H;
                    const float* xp = proj.data() + d.x_row(t, n) * gh;
                    const float* hp = h_prev.data() + n * H;
                    z_gate[static_cast<std::size_t>(bj)] =
                        sigmoid(clip(static_cast<float>(xp[j] + dot(hp, j))));
                    const float rg = sigmoid(clip(static_cast<float>(xp[H + j] + dot(hp, H + j))));
                    rh[static_cast<std::size_t>(bj)] = rg * hp[j];
                }
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
                for (std::int64_t bj = 0; bj < B * H; ++bj) {
                    const std::int64_t n = bj / H, j = bj % H;
                    const float* xp = proj.data() + d.x_row(t, n) * gh;
                    const float z = z_gate[static_cast<std::size_t>(bj)];
                    const float hh = std::tanh(clip(
                        static_cast<float>(xp[2 * H + j] + dot(rh.data() + n * H, 2 * H + j))));
                    h_next[static_cast<std::size_t>(bj)] =
                        (1.0f - z) * hh + z * h_prev[static_cast<std::size_t>(bj)];
                }
            }
            std::swap(h_prev, h_next);
            for (std::int64_t n = 0; n < B; ++n)
                std::copy_n(h_prev.data() + n * H, H, y + d.y_at(t, dir, n));
        }
        for (std::int64_t n = 0; n < B; ++n) {
            std::copy_n(h_prev.data() + n * H, H, yh + d.state_at(dir, n));
            if (yc) std::copy_n(c_prev.data() + n * H, H, yc + d.state_at(dir, n));
        }
    }
    return out;
}

} // namespace

double rnn_macs(std::int64_t steps, std::int64_t batch, std::int64_t input, std::int64_t hidden,
                std::int64_t gates, std::int64_t directions) {
    return static_cast<double>(directions) * static_cast<double>(steps) *
           static_cast<double>(batch) * static_cast<double>(gates * hidden) *
           static_cast<double>(input + hidden);
}

std::vector<tensor> lstm(const_tensor_view x, const_tensor_view w, const_tensor_view r,
                         optional_view b, optional_view sequence_lens, optional_view initial_h,
                         optional_view initial_c, optional_view p, const rnn_params& params) {
    return run(cell::lstm, x, w, r, b, sequence_lens, initial_h, initial_c, p, params, "ops::lstm");
}

std::vector<tensor> gru(const_tensor_view x, const_tensor_view w, const_tensor_view r,
                        optional_view b, optional_view sequence_lens, optional_view initial_h,
                        const rnn_params& params) {
    return run(cell::gru, x, w, r, b, sequence_lens, initial_h, std::nullopt, std::nullopt, params,
               "ops::gru");
}

} // namespace hone::ops
