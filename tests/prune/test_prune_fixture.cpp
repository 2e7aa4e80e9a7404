// The real trained layer: fc1 of the Fashion-MNIST MLP fixture (mlp_fc1_weight.npy [256, 784]).
// Calibration: 2048 training images (pixels/255, flattened); held-out: 2048 test images. At 50 %
// unstructured and at 2:4 the layer-output MSE on the held-out inputs must order
// SparseGPT < Wanda < magnitude.
#include "../fixture_layer.hpp"
#include "hone/prune/pruner.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace hone;

TEST_CASE("fc1 of the Fashion-MNIST MLP: SparseGPT < Wanda < magnitude in held-out output MSE") {
    const tensor& w = fixture::fc1().weight;
    const tensor& calib = fixture::fc1().calib;
    const tensor& held = fixture::fc1().test;

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
        const double e_mag = fixture::output_mse(w, mag, held);
        const double e_wanda = fixture::output_mse(w, wanda, held);
        const double e_sgpt = fixture::output_mse(w, sgpt, held);
        MESSAGE(std::string(p.name), ": held-out layer-output MSE  magnitude ", e_mag, "  Wanda ",
                e_wanda, "  SparseGPT ", e_sgpt, "  (calibration MSE: SparseGPT ",
                fixture::output_mse(w, sgpt, calib), ")");
        CHECK(e_sgpt < e_wanda);
        CHECK(e_wanda < e_mag);
    }
}
