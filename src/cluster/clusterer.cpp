// The clusterer: per-tensor / per-channel / per-group codebooks, palettized storage through the
// kernel layer, sparsity preservation and the codebook fine-tuning hook.
#include "hone/cluster/clusterer.hpp"

#include "compensated_sum.hpp"

#include "hone/core/error.hpp"
#include "hone/core/half.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/cluster.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <numeric>

namespace hone {
namespace {

using i64 = std::int64_t;

int bits_for(int k) {
    int b = 1;
    while ((1 << b) < k)
        ++b;
    return b;
}

/// `v` with axis `a` moved to the front (a strided view of the same memory).
const_tensor_view axis_first(const_tensor_view v, int a) {
    if (a == 0) return v;
    std::array<std::int64_t, shape::max_rank> d{}, s{};
    std::size_t r = 0;
    d[r] = v.dims()[a];
    s[r++] = v.stride(a);
    for (std::size_t i = 0; i < v.rank(); ++i)
        if (int(i) != a) {
            d[r] = v.dims()[i];
            s[r++] = v.stride(i);
        }
    strides_array st{};
    std::copy(s.begin(), s.end(), st.begin());
    return const_tensor_view(v.data(), v.type(), shape(std::span<const i64>(d.data(), r)), st);
}

tensor_view axis_first(tensor_view v, int a) {
    const auto c = axis_first(const_tensor_view(v), a);
    return tensor_view(const_cast<void*>(c.data()), c.type(), c.dims(), c.strides());
}

/// Contiguous f32 copy of `v` in the channel-major order of the layout (axis first).
tensor channel_major(const_tensor_view v, int axis, std::string_view name, const char* what) {
    if (v.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: {} must be f32, got {}", name, what, name_of(v.type())));
    return tensor::copy_of(axis_first(v, axis));
}

void check_finite(std::span<const float> x, std::string_view name, const char* what) {
    for (std::size_t i = 0; i < x.size(); ++i)
        if (!std::isfinite(x[i]))
            fail(status::invalid_argument,
                 fmt::format("{}: {} element {} (in channel-major order) is {}", name, what, i,
                             x[i]));
}

float round_to(dtype t, double c, std::string_view name, i64 g) {
    const float f = static_cast<float>(c);
    const float r = t == dtype::f16 ? to_float(to_half(f)) : f;
    if (!std::isfinite(r))
        fail(status::invalid_argument,
             fmt::format("{}: centroid {} of codebook {} does not fit {}", name, c, g, name_of(t)));
    return r;
}

/// Runs body(g) for g < n in parallel; rethrows the error of the lowest failing g.
template <class Body> void parallel_groups(i64 n, Body&& body) {
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
#pragma omp parallel for num_threads(num_threads()) schedule(dynamic, 1) if (n > 1)
    for (i64 g = 0; g < n; ++g) {
        try {
            body(g);
        } catch (...) {
            errors[g] = std::current_exception();
        }
    }
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

struct solved {
    std::vector<double> centroids; // ascending
    int zero_slot = -1;
    kmeans_method method = kmeans_method::optimal;
};

std::vector<double> solve_values(std::span<const float> v, std::span<const float> w, int k,
                                 const clusterer_config& cfg, kmeans_method& used,
                                 std::string_view name) {
    if (k == 1) { // the weighted mean (sparsity mode with k = 2)
        double s = 0, t = 0;
        for (std::size_t i = 0; i < v.size(); ++i) {
            const double wi = w.empty() ? 1.0 : double(w[i]);
            s += wi * v[i];
            t += wi;
        }
        used = kmeans_method::optimal;
        return {s / t};
    }
    kmeans_method m = cfg.method;
    if (m == kmeans_method::automatic)
        m = kmeans1d_optimal_cells(i64(v.size()), k) <= cfg.auto_max_cells ? kmeans_method::optimal
                                                                           : kmeans_method::lloyd;
    used = m;
    return m == kmeans_method::optimal ? kmeans1d_optimal(v, w, k, name).centroids
                                       : kmeans1d_lloyd(v, w, k, cfg.lloyd, name).centroids;
}

solved solve_group(std::span<const float> v, std::span<const float> w, const clusterer_config& cfg,
                   const std::string& name) {
    // A codebook whose importances are all zero is clustered unweighted.
    if (!w.empty() && std::all_of(w.begin(), w.end(), [](float x) { return x == 0; })) w = {};
    solved s;
    const int k = cfg.clusters;
    if (!cfg.preserve_sparsity ||
        std::none_of(v.begin(), v.end(), [](float x) { return x == 0; })) {
        s.centroids = solve_values(v, w, k, cfg, s.method, name);
        return s;
    }
    std::vector<float> nv, nw;
    for (std::size_t i = 0; i < v.size(); ++i)
        if (v[i] != 0) {
            nv.push_back(v[i]);
            if (!w.empty()) nw.push_back(w[i]);
        }
    if (!nw.empty() && std::all_of(nw.begin(), nw.end(), [](float x) { return x == 0; }))
        nw.clear();
    std::vector<double> c;
    if (!nv.empty()) c = solve_values(nv, nw, k - 1, cfg, s.method, name);
    // The zero centroid goes before the first centroid that is not negative.
    const auto pos = std::lower_bound(c.begin(), c.end(), 0.0) - c.begin();
    c.insert(c.begin() + pos, 0.0);
    s.zero_slot = int(pos);
    s.centroids = std::move(c);
    return s;
}

} // namespace

// ---- palettized_tensor ------------------------------------------------------------------------

kernels::palettized_matrix palettized_tensor::matrix() const {
    kernels::palettized_matrix m;
    m.rows = rows_;
    m.cols = cols_;
    m.bits = bits_;
    m.rows_per_group = rows_per_group_;
    m.codebook_type = codebooks_.type();
    m.indices = {static_cast<const std::uint8_t*>(indices_.data()), indices_.nbytes()};
    m.codebooks = {static_cast<const std::byte*>(codebooks_.data()), codebooks_.nbytes()};
    return m;
}

tensor palettized_tensor::indices() const {
    tensor t(dtype::u8, {rows_, cols_});
    kernels::unpack_indices(matrix().indices, rows_, cols_, bits_, t.span<std::uint8_t>());
    return t;
}

tensor palettized_tensor::dequantize() const {
    tensor t(dtype::f32, dims_);
    dequantize(t.view());
    return t;
}

void palettized_tensor::dequantize(tensor_view dst) const {
    if (dst.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("palettized_tensor::dequantize: dst must be f32, got {}",
                         name_of(dst.type())));
    if (dst.dims() != dims_)
        fail(status::shape_mismatch,
             fmt::format("palettized_tensor::dequantize: dst must be {}, got {}", dims_.to_string(),
                         dst.dims().to_string()));
    tensor buf(dtype::f32, {rows_, cols_});
    kernels::palettized_decode(matrix(), buf.span<float>());
    if (axis_ == 0) {
        copy(const_tensor_view(buf.data(), dtype::f32, dims_, dims_.contiguous_strides()), dst);
        return;
    }
    const auto moved = axis_first(dst, axis_);
    copy(const_tensor_view(buf.data(), dtype::f32, moved.dims(), moved.dims().contiguous_strides()),
         moved);
}

void palettized_tensor::init_gradient() {
    grad_sum_.assign(static_cast<std::size_t>(groups() * entries()), 0.0);
    grad_count_.assign(grad_sum_.size(), 0);
}

void palettized_tensor::clear_gradient() { init_gradient(); }

std::vector<float> palettized_tensor::centroids_of(i64 g) const {
    const auto* m = master_.data() + g * entries();
    return std::vector<float>(m, m + clusters_used_[g]);
}

void palettized_tensor::store_codebook(i64 g, std::span<const double> c) {
    // Callers have checked that every value rounds to a finite codebook entry.
    const i64 e = entries();
    for (i64 j = 0; j < e; ++j) {
        const float f = j < i64(c.size()) ? static_cast<float>(c[j]) : 0.0f;
        master_[g * e + j] = f;
        if (codebooks_.type() == dtype::f16)
            static_cast<half*>(codebooks_.data())[g * e + j] = to_half(f);
        else
            static_cast<float*>(codebooks_.data())[g * e + j] = f;
    }
}

void palettized_tensor::assign(const_tensor_view weights, std::span<const float> importance,
                               std::string_view name) {
    const tensor cm = channel_major(weights, axis_, name, "weights");
    const auto v = cm.span<float>();
    check_finite(v, name, "weight");
    std::vector<std::uint8_t> idx(static_cast<std::size_t>(rows_ * cols_));
    std::vector<double> sse(static_cast<std::size_t>(groups()));
    const i64 e = entries();
    parallel_groups(groups(), [&](i64 g) {
        const i64 r0 = g * rows_per_group_, r1 = std::min(rows_, r0 + rows_per_group_);
        const auto begin = static_cast<std::size_t>(r0 * cols_),
                   count = static_cast<std::size_t>((r1 - r0) * cols_);
        const auto vals = v.subspan(begin, count);
        auto out = std::span<std::uint8_t>(idx).subspan(begin, count);
        // The stored centroids, as the kernels read them.
        std::vector<float> c(static_cast<std::size_t>(clusters_used_[g]));
        for (std::size_t j = 0; j < c.size(); ++j)
            c[j] = codebooks_.type() == dtype::f16
                       ? to_float(static_cast<const half*>(codebooks_.data())[g * e + i64(j)])
                       : static_cast<const float*>(codebooks_.data())[g * e + i64(j)];
        const int z = zero_slot_[g];
        if (z < 0) {
            kernels::nearest_centroid(vals, c, out);
        } else {
            std::vector<float> nz(c);
            nz.erase(nz.begin() + z);
            if (nz.empty()) {
                std::fill(out.begin(), out.end(), std::uint8_t(z));
            } else {
                kernels::nearest_centroid(vals, nz, out);
                for (std::size_t i = 0; i < count; ++i)
                    out[i] = vals[i] == 0 ? std::uint8_t(z)
                                          : std::uint8_t(out[i] + (out[i] >= z ? 1 : 0));
            }
        }
        detail::compensated_sum s;
        for (std::size_t i = 0; i < count; ++i) {
            const double d = double(vals[i]) - c[out[i]];
            s.add((importance.empty() ? 1.0 : double(importance[begin + i])) * d * d);
        }
        sse[g] = s.value();
    });
    kernels::pack_indices(idx, rows_, cols_, bits_, indices_.span<std::uint8_t>());
    sse_ = std::accumulate(sse.begin(), sse.end(), 0.0);
}

void palettized_tensor::accumulate_gradient(const_tensor_view grad) {
    constexpr const char* fn = "palettized_tensor::accumulate_gradient";
    if (grad.dims() != dims_)
        fail(status::shape_mismatch, fmt::format("{}: gradient must be {}, got {}", fn,
                                                 dims_.to_string(), grad.dims().to_string()));
    const tensor cm = channel_major(grad, axis_, fn, "gradient");
    const auto gv = cm.span<float>();
    check_finite(gv, fn, "gradient");
    const tensor idx = indices();
    const auto iv = idx.span<std::uint8_t>();
    const i64 e = entries();
    parallel_groups(groups(), [&](i64 g) {
        const i64 r0 = g * rows_per_group_, r1 = std::min(rows_, r0 + rows_per_group_);
        for (i64 i = r0 * cols_; i < r1 * cols_; ++i) {
            const auto slot = static_cast<std::size_t>(g * e + iv[i]);
            grad_sum_[slot] += gv[i];
            ++grad_count_[slot];
        }
    });
}

void palettized_tensor::apply_gradient(float learning_rate, bool average) {
    constexpr const char* fn = "palettized_tensor::apply_gradient";
    if (!std::isfinite(learning_rate))
        fail(status::invalid_argument,
             fmt::format("{}: learning rate {} is not finite", fn, learning_rate));
    const i64 e = entries();
    std::vector<double> next(master_.begin(), master_.end());
    for (i64 g = 0; g < groups(); ++g)
        for (i64 j = 0; j < clusters_used_[g]; ++j) {
            const auto slot = static_cast<std::size_t>(g * e + j);
            if (j == zero_slot_[g] || grad_count_[slot] == 0) continue;
            const double step =
                average ? grad_sum_[slot] / double(grad_count_[slot]) : grad_sum_[slot];
            next[slot] = double(master_[slot]) - double(learning_rate) * step;
            round_to(codebooks_.type(), next[slot], fn, g); // throws before anything changes
        }
    for (i64 g = 0; g < groups(); ++g)
        store_codebook(g, std::span<const double>(next).subspan(static_cast<std::size_t>(g * e),
                                                                std::size_t(clusters_used_[g])));
    init_gradient();
}

void palettized_tensor::reassign(const_tensor_view weights) {
    constexpr const char* fn = "palettized_tensor::reassign";
    if (weights.dims() != dims_)
        fail(status::shape_mismatch, fmt::format("{}: weights must be {}, got {}", fn,
                                                 dims_.to_string(), weights.dims().to_string()));
    // Validate the weights before the codebooks change.
    check_finite(channel_major(weights, axis_, fn, "weights").span<float>(), fn, "weight");
    for (i64 g = 0; g < groups(); ++g) {
        const auto c = centroids_of(g);
        std::vector<std::pair<float, int>> order(c.size());
        for (std::size_t j = 0; j < c.size(); ++j)
            order[j] = {c[j], int(j) == zero_slot_[g] ? 0 : 1};
        std::stable_sort(order.begin(), order.end());
        std::vector<double> sorted(c.size());
        for (std::size_t j = 0; j < c.size(); ++j) {
            sorted[j] = order[j].first;
            if (zero_slot_[g] >= 0 && order[j].second == 0) zero_slot_[g] = int(j);
        }
        store_codebook(g, sorted);
    }
    assign(weights, {}, fn);
    init_gradient();
}

// ---- clusterer --------------------------------------------------------------------------------

clusterer::clusterer(const clusterer_config& c) : config_(c) {
    if (c.clusters < 2 || c.clusters > kernels::max_centroids)
        fail(status::invalid_argument, fmt::format("clusterer: clusters = {} is outside 2 … {}",
                                                   c.clusters, kernels::max_centroids));
    const int m = static_cast<int>(c.method);
    if (m < 0 || m > 2)
        fail(status::invalid_argument, fmt::format("clusterer: unknown method {}", m));
    const int g = static_cast<int>(c.granularity);
    if (g < 0 || g > 2)
        fail(status::invalid_argument, fmt::format("clusterer: unknown granularity {}", g));
    if (c.granularity == cluster_granularity::per_group && c.group_size < 1)
        fail(status::invalid_argument,
             fmt::format("clusterer: group_size = {} must be >= 1", c.group_size));
    if (c.codebook_type != dtype::f32 && c.codebook_type != dtype::f16)
        fail(status::dtype_mismatch, fmt::format("clusterer: codebook type {} is not f32 or f16",
                                                 name_of(c.codebook_type)));
    if (c.auto_max_cells < 0)
        fail(status::invalid_argument,
             fmt::format("clusterer: auto_max_cells = {} must be >= 0", c.auto_max_cells));
    const int init = static_cast<int>(c.lloyd.init);
    if (init < 0 || init > 3)
        fail(status::invalid_argument, fmt::format("clusterer: unknown lloyd init {}", init));
    if (c.lloyd.max_iterations < 1)
        fail(status::invalid_argument,
             fmt::format("clusterer: lloyd max_iterations = {} must be >= 1",
                         c.lloyd.max_iterations));
    if (!(c.lloyd.tolerance >= 0) || !std::isfinite(c.lloyd.tolerance))
        fail(status::invalid_argument,
             fmt::format("clusterer: lloyd tolerance = {} must be finite and >= 0",
                         c.lloyd.tolerance));
}

palettized_tensor clusterer::cluster(const_tensor_view weights, const_tensor_view importance,
                                     std::string_view name_view) const {
    const std::string name(name_view);
    const auto& c = config_;
    if (weights.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: weights must be f32, got {}", name, name_of(weights.type())));
    if (weights.numel() == 0)
        fail(status::invalid_argument,
             fmt::format("{} is empty ({})", name, weights.dims().to_string()));
    const bool weighted =
        importance.data() != nullptr || importance.numel() != 1 || importance.rank() != 0;
    if (weighted && importance.dims() != weights.dims())
        fail(status::shape_mismatch,
             fmt::format("{}: importance must be {}, got {}", name, weights.dims().to_string(),
                         importance.dims().to_string()));
    const int rank = int(weights.rank());
    palettized_tensor p;
    p.dims_ = weights.dims();
    p.granularity_ = c.granularity;
    p.preserve_sparsity_ = c.preserve_sparsity;
    p.bits_ = bits_for(c.clusters);
    if (c.granularity == cluster_granularity::per_tensor) {
        p.axis_ = 0;
        p.rows_ = rank >= 2 ? weights.dims()[0] : 1;
        p.rows_per_group_ = p.rows_;
    } else {
        if (rank == 0 || c.axis < -rank || c.axis >= rank)
            fail(status::invalid_argument,
                 fmt::format("{}: axis {} is outside the rank {} of {}", name, c.axis, rank,
                             weights.dims().to_string()));
        p.axis_ = c.axis < 0 ? c.axis + rank : c.axis;
        p.rows_ = weights.dims()[p.axis_];
        p.rows_per_group_ = c.granularity == cluster_granularity::per_channel
                                ? 1
                                : std::min<i64>(c.group_size, p.rows_);
    }
    p.cols_ = weights.numel() / p.rows_;
    // Per-tensor layout of a rank-1 tensor: one row. axis_first with axis 0 is the identity.
    const tensor values = channel_major(weights, p.axis_, name, "weights");
    const auto v = values.span<float>();
    check_finite(v, name, "weight");
    tensor imp;
    if (weighted) {
        imp = channel_major(importance, p.axis_, name, "importance");
        const auto w = imp.span<float>();
        for (std::size_t i = 0; i < w.size(); ++i)
            if (!std::isfinite(w[i]) || w[i] < 0)
                fail(status::invalid_argument,
                     fmt::format("{}: importance element {} (in channel-major order) is {} "
                                 "(must be finite and >= 0)",
                                 name, i, w[i]));
    }
    const std::span<const float> w = weighted ? imp.span<float>() : std::span<const float>{};
    const i64 groups = (p.rows_ + p.rows_per_group_ - 1) / p.rows_per_group_;
    p.indices_ = tensor(dtype::u8, {p.rows_, i64(kernels::packed_row_bytes(p.cols_, p.bits_))});
    p.codebooks_ = tensor(c.codebook_type, {groups, p.entries()});
    p.master_.assign(static_cast<std::size_t>(groups * p.entries()), 0.0f);
    p.clusters_used_.assign(static_cast<std::size_t>(groups), 0);
    p.zero_slot_.assign(static_cast<std::size_t>(groups), -1);
    p.methods_.assign(static_cast<std::size_t>(groups), kmeans_method::optimal);
    parallel_groups(groups, [&](i64 g) {
        const i64 r0 = g * p.rows_per_group_, r1 = std::min(p.rows_, r0 + p.rows_per_group_);
        const auto begin = static_cast<std::size_t>(r0 * p.cols_),
                   count = static_cast<std::size_t>((r1 - r0) * p.cols_);
        const std::string gname = groups == 1 ? name : fmt::format("{} (codebook {})", name, g);
        solved s =
            solve_group(v.subspan(begin, count), w.empty() ? w : w.subspan(begin, count), c, gname);
        for (double& x : s.centroids)
            x = round_to(c.codebook_type, x, name, g);
        p.clusters_used_[g] = int(s.centroids.size());
        p.zero_slot_[g] = s.zero_slot;
        p.methods_[g] = s.method;
        p.store_codebook(g, s.centroids);
    });
    p.assign(weights, w, name);
    p.init_gradient();
    return p;
}

} // namespace hone
