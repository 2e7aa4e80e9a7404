// The clusterer on a real trained layer: fc1 of the Fashion-MNIST MLP fixture ([256, 784]),
// evaluated on 2048 held-out test images (pixels/255, flattened). Reports (MESSAGE) the layer
// output MSE and the compression ratio against f32 for 16 clusters per tensor and per channel,
// optimal versus Lloyd, and sensitive (importance-weighted) k-means.
#include "../fixture_layer.hpp"

#include <hone/cluster/clusterer.hpp>
#include <hone/data/dataset.hpp>
#include <hone/kernels/error.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/kernels/palettized.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

struct layer_eval {
    const hone::tensor& x; // [N, 784]
    const hone::tensor& w; // [256, 784]
    const hone::tensor& b; // [256]
    std::vector<float> reference;

    layer_eval(const hone::tensor& x_, const hone::tensor& w_, const hone::tensor& b_)
        : x(x_), w(w_), b(b_), reference(std::size_t(x_.dims()[0] * w_.dims()[0])) {
        hone::kernels::matmul_f32(
            static_cast<const float*>(x.data()), static_cast<const float*>(w.data()),
            reference.data(), x.dims()[0], x.dims()[1], w.dims()[0],
            hone::kernels::weight_layout::n_by_k, static_cast<const float*>(b.data()));
    }
    /// Output MSE of the palettized layer (through the kernel layer's palettized matmul).
    double mse(const hone::palettized_tensor& p) const {
        std::vector<float> y(reference.size());
        hone::kernels::palettized_matmul(p.matrix(), x.span<float>(), x.dims()[0], y,
                                         b.span<float>());
        return hone::kernels::compare(reference, y, "fc1 output").mse();
    }
    double output_variance() const {
        double m = 0, s = 0;
        for (const float v : reference)
            m += v;
        m /= double(reference.size());
        for (const float v : reference)
            s += (v - m) * (v - m);
        return s / double(reference.size());
    }
};

} // namespace

TEST_CASE("fc1 of the Fashion-MNIST MLP: 16 clusters, output MSE and compression") {
    const auto& w = fixture::fc1().weight;
    const auto b = fixture::load("mlp_fc1_bias.npy");
    const std::int64_t n = 2048;
    const auto& x = fixture::fc1().test;
    const layer_eval eval(x, w, b);
    const double var = eval.output_variance();
    double mean_x2 = 0; // mean over samples of ‖x‖²
    for (const float v : x.span<float>())
        mean_x2 += double(v) * v;
    mean_x2 /= double(n);
    const std::size_t f32_bytes = std::size_t(256 * 784 * 4);

    auto report = [&](const char* what, const hone::palettized_tensor& p) {
        const double mse = eval.mse(p);
        const double ratio = double(f32_bytes) / double(p.bytes());
        MESSAGE(std::string(what) << ": weight SSE " << p.sse() << ", output MSE " << mse
                                  << " (output variance " << var << ", relative " << mse / var
                                  << "), bytes " << p.bytes() << ", compression vs f32 " << ratio
                                  << "x");
        // Cauchy–Schwarz: each output error e[n,r] = x_n · E_r, so mean e² ≤ mean‖x‖²·SSE/rows.
        CHECK(mse <= mean_x2 * p.sse() / 256.0);
        CHECK(mse > 0);
        return std::pair{mse, ratio};
    };

    hone::clusterer_config cfg{.clusters = 16};
    const auto per_tensor = hone::clusterer(cfg).cluster(w, {}, "fc1.weight");
    CHECK(per_tensor.methods()[0] == hone::kmeans_method::optimal);
    const auto [mse_t, ratio_t] = report("per-tensor optimal", per_tensor);
    CHECK(per_tensor.bytes() == std::size_t(256 * 392 + 16 * 4));
    CHECK(ratio_t == doctest::Approx(802816.0 / 100416.0));
    CHECK(mse_t < 0.01 * var); // 4-bit clustering keeps the layer within 1% of its variance

    cfg.granularity = hone::cluster_granularity::per_channel;
    const auto per_channel = hone::clusterer(cfg).cluster(w, {}, "fc1.weight");
    const auto [mse_c, ratio_c] = report("per-channel optimal", per_channel);
    CHECK(per_channel.bytes() == std::size_t(256 * 392 + 256 * 16 * 4));
    CHECK(per_channel.sse() <= per_tensor.sse()); // each channel's optimum beats a shared one
    CHECK(mse_c < mse_t);
    (void)ratio_c;

    cfg.codebook_type = hone::dtype::f16;
    report("per-channel optimal, f16 codebooks", hone::clusterer(cfg).cluster(w, {}, "fc1.weight"));

    // Lloyd (TFMOT initialisations) on the same tensor: never a lower weight SSE.
    hone::clusterer_config lc{.clusters = 16, .method = hone::kmeans_method::lloyd};
    for (const auto init : {hone::kmeans_init::linear, hone::kmeans_init::density,
                            hone::kmeans_init::kmeans_plus_plus, hone::kmeans_init::random}) {
        lc.lloyd.init = init;
        const auto l = hone::clusterer(lc).cluster(w, {}, "fc1.weight");
        const char* names[] = {"per-tensor lloyd k-means++", "per-tensor lloyd linear",
                               "per-tensor lloyd density", "per-tensor lloyd random"};
        report(names[int(init)], l);
        CHECK(per_tensor.sse() <= l.sse() * (1 + 1e-9));
    }

    // Sensitive k-means: importance = E[x_c²] over 2048 calibration (train) images, the weight
    // of E[r,c]² in the output MSE when errors are uncorrelated.
    const auto train = hone::dataset::fashion_mnist("train");
    std::vector<double> ex2(784, 0.0);
    for (std::int64_t i = 0; i < n; ++i)
        for (int c = 0; c < 784; ++c) {
            const double v = train.inputs().span<float>()[std::size_t(i * 784 + c)];
            ex2[c] += v * v / double(n);
        }
    hone::tensor imp(hone::dtype::f32, {256, 784});
    for (int r = 0; r < 256; ++r)
        for (int c = 0; c < 784; ++c)
            imp.span<float>()[std::size_t(r * 784 + c)] = float(ex2[c]);
    cfg.codebook_type = hone::dtype::f32;
    cfg.granularity = hone::cluster_granularity::per_tensor;
    const auto sensitive = hone::clusterer(cfg).cluster(w, imp, "fc1.weight");
    const double mse_s = eval.mse(sensitive);
    MESSAGE("per-tensor sensitive (importance E[x²] from train): output MSE "
            << mse_s << " (plain optimal " << mse_t << ")");
    CHECK(mse_s < mse_t);
}
