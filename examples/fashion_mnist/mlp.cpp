#include "mlp.hpp"

#include <hone/data/arrays.hpp>
#include <hone/kernels/quantize.hpp>
#include <hone/kernels/reduce.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace demo {

using hone::kernels::matmul_f32;
using hone::kernels::weight_layout;

namespace {

std::vector<float> uniform(std::size_t n, float bound, std::mt19937_64& rng) {
    std::uniform_real_distribution<float> u(-bound, bound);
    std::vector<float> v(n);
    for (float& x : v)
        x = u(rng);
    return v;
}

std::vector<float> transpose(const std::vector<float>& a, std::int64_t rows, std::int64_t cols) {
    std::vector<float> t(a.size());
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
            t[c * rows + r] = a[r * cols + c];
    return t;
}

void sgd_step(std::vector<float>& w, std::vector<float>& velocity, const std::vector<float>& grad,
              const training_options& o) {
    for (std::size_t i = 0; i < w.size(); ++i) {
        velocity[i] = o.momentum * velocity[i] - o.learning_rate * grad[i];
        w[i] += velocity[i];
    }
}

} // namespace

mlp_weights train(const hone::dataset& data, const training_options& o) {
    std::mt19937_64 rng(o.seed);
    mlp_weights w;
    w.w1 = uniform(hidden * inputs, 1.0f / std::sqrt(float(inputs)), rng);
    w.b1 = uniform(hidden, 1.0f / std::sqrt(float(inputs)), rng);
    w.w2 = uniform(classes * hidden, 1.0f / std::sqrt(float(hidden)), rng);
    w.b2 = uniform(classes, 1.0f / std::sqrt(float(hidden)), rng);
    std::vector<float> v1(w.w1.size()), vb1(w.b1.size()), v2(w.w2.size()), vb2(w.b2.size());
    const std::int64_t n = data.size(), b = o.batch;
    const float* x_all = data.inputs().span<float>().data();
    std::vector<std::uint32_t> order(static_cast<std::size_t>(n));
    std::vector<float> x(b * inputs), h(b * hidden), z(b * classes), g(b * classes), dh(b * hidden);
    std::vector<float> dw1(w.w1.size()), db1(hidden), dw2(w.w2.size()), db2(classes);
    for (int epoch = 0; epoch < o.epochs; ++epoch) {
        std::iota(order.begin(), order.end(), 0u);
        std::shuffle(order.begin(), order.end(), rng);
        for (std::int64_t start = 0; start + b <= n; start += b) {
            for (std::int64_t r = 0; r < b; ++r)
                std::copy_n(x_all + order[start + r] * inputs, inputs, x.data() + r * inputs);
            // forward
            matmul_f32(x.data(), w.w1.data(), h.data(), b, inputs, hidden, weight_layout::n_by_k,
                       w.b1.data());
            for (float& v : h)
                v = std::max(v, 0.0f);
            matmul_f32(h.data(), w.w2.data(), z.data(), b, hidden, classes, weight_layout::n_by_k,
                       w.b2.data());
            // softmax cross-entropy gradient, averaged over the batch
            for (std::int64_t r = 0; r < b; ++r) {
                float* zr = z.data() + r * classes;
                const float m = *std::max_element(zr, zr + classes);
                float sum = 0;
                for (std::int64_t c = 0; c < classes; ++c)
                    sum += std::exp(zr[c] - m);
                const auto label = data.labels()[order[start + r]];
                for (std::int64_t c = 0; c < classes; ++c)
                    g[r * classes + c] =
                        (std::exp(zr[c] - m) / sum - (c == label ? 1.0f : 0.0f)) / float(b);
            }
            // backward
            const auto gt = transpose(g, b, classes);
            matmul_f32(gt.data(), h.data(), dw2.data(), classes, b, hidden, weight_layout::k_by_n,
                       nullptr);
            std::fill(db2.begin(), db2.end(), 0.0f);
            for (std::int64_t r = 0; r < b; ++r)
                for (std::int64_t c = 0; c < classes; ++c)
                    db2[c] += g[r * classes + c];
            matmul_f32(g.data(), w.w2.data(), dh.data(), b, classes, hidden, weight_layout::k_by_n,
                       nullptr);
            for (std::size_t i = 0; i < dh.size(); ++i)
                if (h[i] <= 0) dh[i] = 0;
            const auto dht = transpose(dh, b, hidden);
            matmul_f32(dht.data(), x.data(), dw1.data(), hidden, b, inputs, weight_layout::k_by_n,
                       nullptr);
            std::fill(db1.begin(), db1.end(), 0.0f);
            for (std::int64_t r = 0; r < b; ++r)
                for (std::int64_t c = 0; c < hidden; ++c)
                    db1[c] += dh[r * hidden + c];
            sgd_step(w.w1, v1, dw1, o);
            sgd_step(w.b1, vb1, db1, o);
            sgd_step(w.w2, v2, dw2, o);
            sgd_step(w.b2, vb2, db2, o);
        }
    }
    return w;
}

namespace {

// Symmetric per-row int8: scale = max|w| / 127, q = round_half_even(w / scale) (ONNX rules).
void quantize_rows(const std::vector<float>& w, std::int64_t rows, std::int64_t cols,
                   std::vector<std::int8_t>& q, std::vector<float>& scales) {
    q.resize(w.size());
    scales.resize(static_cast<std::size_t>(rows));
    hone::kernels::abs_max_rows(w, rows, cols, scales); // then scale = max|w| / 127
    for (std::int64_t r = 0; r < rows; ++r) {
        scales[r] = scales[r] > 0 ? scales[r] / 127.0f : 1.0f;
        hone::kernels::quantize(std::span<const float>(w).subspan(r * cols, cols), scales[r], 0,
                                std::span<std::int8_t>(q).subspan(r * cols, cols));
    }
}

template <class T>
void save_vector(const std::filesystem::path& p, const std::vector<T>& v,
                 std::vector<std::filesystem::path>& out) {
    hone::tensor t(hone::dtype_of<T>, {static_cast<std::int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.span<T>().begin());
    hone::save_npy(p, t);
    out.push_back(p);
}

class linear_runner final : public hone::runner {
public:
    linear_runner(std::string name, hone::kernels::linear l1, hone::kernels::linear l2,
                  std::uint64_t bytes, bool int8)
        : name_(std::move(name)), l1_(std::move(l1)), l2_(std::move(l2)), bytes_(bytes),
          int8_(int8) {}
    std::string name() const override { return name_; }
    std::uint64_t model_bytes() const override { return bytes_; }
    work work_per_sample() const override {
        return {2.0 * double(inputs * hidden + hidden * classes), int8_};
    }
    hone::tensor run(hone::const_tensor_view in) override {
        const hone::tensor x = hone::tensor::copy_of(in);
        const std::int64_t m = in.dims()[0];
        hone::tensor h(hone::dtype::f32, {m, hidden}), z(hone::dtype::f32, {m, classes});
        l1_.run(x.span<float>().data(), h.span<float>().data(), m);
        l2_.run(h.span<float>().data(), z.span<float>().data(), m);
        return z;
    }

private:
    std::string name_;
    hone::kernels::linear l1_, l2_;
    std::uint64_t bytes_;
    bool int8_;
};

} // namespace

int8_weights quantize_per_channel(const mlp_weights& w) {
    int8_weights q;
    quantize_rows(w.w1, hidden, inputs, q.w1, q.s1);
    quantize_rows(w.w2, classes, hidden, q.w2, q.s2);
    q.b1 = w.b1;
    q.b2 = w.b2;
    return q;
}

std::vector<std::filesystem::path> save(const int8_weights& w, const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    std::vector<std::filesystem::path> files;
    save_vector(dir / "fc1.weight.i8.npy", w.w1, files);
    save_vector(dir / "fc1.weight_scale.npy", w.s1, files);
    save_vector(dir / "fc1.bias.npy", w.b1, files);
    save_vector(dir / "fc2.weight.i8.npy", w.w2, files);
    save_vector(dir / "fc2.weight_scale.npy", w.s2, files);
    save_vector(dir / "fc2.bias.npy", w.b2, files);
    return files;
}

std::unique_ptr<hone::runner> f32_runner(const mlp_weights& w) {
    hone::kernels::linear_params p1{
        .type = hone::kernels::gemm_type::f32, .k = inputs, .n = hidden, .relu = true};
    hone::kernels::linear_params p2{
        .type = hone::kernels::gemm_type::f32, .k = hidden, .n = classes};
    return std::make_unique<linear_runner>("baseline f32", hone::kernels::linear(p1, w.w1, w.b1),
                                           hone::kernels::linear(p2, w.w2, w.b2), w.bytes(), false);
}

std::unique_ptr<hone::runner> int8_runner(const int8_weights& w) {
    hone::kernels::linear_params p1{.type = hone::kernels::gemm_type::int8,
                                    .k = inputs,
                                    .n = hidden,
                                    .relu = true,
                                    .activations = hone::kernels::act_quant::dynamic_per_row,
                                    .reduce_range = true};
    hone::kernels::linear_params p2 = p1;
    p2.k = hidden;
    p2.n = classes;
    p2.relu = false;
    return std::make_unique<linear_runner>(
        "candidate int8", hone::kernels::linear(p1, w.w1, w.s1, w.b1),
        hone::kernels::linear(p2, w.w2, w.s2, w.b2), w.bytes(), true);
}

} // namespace demo
