// The real trained layer: fc1 of the Fashion-MNIST MLP fixture (mlp_fc1_weight.npy [256, 784]).
// Calibration: 2048 training images (pixels/255, flattened); held-out: 2048 test images. At 50 %
// unstructured and at 2:4 the layer-output MSE on the held-out inputs must order
// SparseGPT < Wanda < magnitude.
#include "hone/data/arrays.hpp"
#include "hone/data/dataset.hpp"
#include "hone/kernels/gemm.hpp"
#include "hone/prune/pruner.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace hone;
namespace fs = std::filesystem;

namespace {

// tests/fixtures/fashion_mnist, found from HONE_FIXTURES_DIR or by walking up from the test
// executable and the working directory.
fs::path fixtures_dir() {
    if (const char* env = std::getenv("HONE_FIXTURES_DIR")) return env;
    std::vector<fs::path> starts{fs::current_path()};
    std::error_code ec;
    const auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) starts.push_back(exe.parent_path());
    for (auto dir : starts)
        for (; !dir.empty(); dir = dir.parent_path()) {
            const auto candidate = dir / "tests" / "fixtures" / "fashion_mnist";
            if (fs::exists(candidate / "mlp_fc1_weight.npy")) return candidate;
            if (dir == dir.parent_path()) break;
        }
    return {};
}

double output_mse(const tensor& w, const tensor& w_hat, const tensor& x) {
    const auto rows = w.dims()[0], k = w.dims()[1], tokens = x.dims()[0];
    std::vector<float> d(static_cast<std::size_t>(rows * k));
    for (std::size_t i = 0; i < d.size(); ++i)
        d[i] = w.span<float>()[i] - w_hat.span<float>()[i];
    std::vector<float> y(static_cast<std::size_t>(tokens * rows));
    kernels::matmul_f32(x.span<float>().data(), d.data(), y.data(), tokens, k, rows,
                        kernels::weight_layout::n_by_k, nullptr);
    double s = 0;
    for (float v : y)
        s += double(v) * v;
    return s / double(y.size());
}

tensor first_rows(const tensor& x, std::int64_t n) {
    return tensor::copy_of(x.view().slice(0, 0, n));
}

} // namespace

TEST_CASE("fc1 of the Fashion-MNIST MLP: SparseGPT < Wanda < magnitude in held-out output MSE") {
    const auto dir = fixtures_dir();
    REQUIRE_MESSAGE(!dir.empty(), "tests/fixtures/fashion_mnist/mlp_fc1_weight.npy not found");
    const auto path = dir / "mlp_fc1_weight.npy";
    const tensor w = parse_npy(read_maybe_gzip(path), path.string());
    REQUIRE(w.dims() == shape{256, 784});
    const tensor calib = first_rows(dataset::fashion_mnist("train").inputs(), 2048);
    const tensor held = first_rows(dataset::fashion_mnist("test").inputs(), 2048);
    REQUIRE(calib.dims() == shape{2048, 784});

    layer_statistics stats(784);
    stats.add(calib);
    const auto norms = stats.column_norms();

    struct pattern {
        const char* name;
        int n, m;
    };
    for (const pattern p : {pattern{"50% unstructured", 0, 0}, pattern{"2:4", 2, 4}}) {
        auto mag = w.clone(), wanda = w.clone(), sgpt = w.clone();
        if (p.n)
            prune_n_m(mag, p.n, p.m);
        else
            prune_magnitude(mag, 0.5);
        prune_wanda(wanda, norms, 0.5, p.n, p.m);
        sparsegpt_config cfg;
        cfg.sparsity = 0.5;
        cfg.n = p.n;
        cfg.m = p.m;
        const auto rep = prune_sparsegpt(sgpt, stats.hessian(), cfg);
        CHECK(rep.pruned == 256 * 784 / 2);
        for (const tensor* t : {&mag, &wanda, &sgpt})
            CHECK(sparsity_of(*t) >= 0.5);
        const double e_mag = output_mse(w, mag, held);
        const double e_wanda = output_mse(w, wanda, held);
        const double e_sgpt = output_mse(w, sgpt, held);
        MESSAGE(std::string(p.name), ": held-out layer-output MSE  magnitude ", e_mag, "  Wanda ",
                e_wanda, "  SparseGPT ", e_sgpt, "  (calibration MSE: SparseGPT ",
                output_mse(w, sgpt, calib), ")");
        CHECK(e_sgpt < e_wanda);
        CHECK(e_wanda < e_mag);
    }
}
