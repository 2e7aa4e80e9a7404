// Structured-pruned layers run as their smaller dense shapes: the MLP with fc1's output
// channels removed by the pruner (fc1 rows, fc1 bias, fc2 columns shrink) against the original
// model with the same channels zeroed.
#include "../model/fixture_path.hpp"

#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/prune/pruner.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

using namespace hone;

TEST_CASE("pruned model: channel-pruned MLP runs with its smaller shapes and matches") {
    const auto m = load_onnx(test::fashion_fixture("mlp.onnx"));
    std::vector<const node*> gemms;
    for (const auto& n : m.nodes)
        if (n.op_type == "Gemm") gemms.push_back(&n);
    REQUIRE(gemms.size() == 3);
    const auto w1 = gemms[0]->inputs[1], b1 = gemms[0]->inputs[2], w2 = gemms[1]->inputs[1];
    REQUIRE(m.weight(w1).dims() == shape{256, 784});

    channel_prune_config cfg;
    cfg.sparsity = 0.5;
    const auto r =
        prune_channels(m.weight(w1).view(), cfg, m.weight(b1).view(), m.weight(w2).view(), w1);
    REQUIRE(r.kept.size() == 128);
    auto pruned = m.clone();
    pruned.weight(w1) = tensor::copy_of(r.weights.view());
    pruned.weight(b1) = tensor::copy_of(r.bias.view());
    pruned.weight(w2) = tensor::copy_of(r.consumer.view());
    CHECK(pruned.weight(w1).dims() == shape{128, 784});
    CHECK(pruned.weight(w2).dims() == shape{128, 128});
    pruned.annotations.clear(); // the file's intermediate shapes describe the unpruned model

    // Reference: the original shapes with the removed channels' weights and bias zeroed
    // (Relu(0) = 0, so they contribute nothing to fc2).
    auto zeroed = m.clone();
    {
        std::vector<bool> keep(256, false);
        for (const auto k : r.kept)
            keep[static_cast<std::size_t>(k)] = true;
        auto w = zeroed.weight(w1).span<float>();
        auto b = zeroed.weight(b1).span<float>();
        for (std::size_t row = 0; row < 256; ++row)
            if (!keep[row]) {
                std::fill_n(w.begin() + static_cast<std::ptrdiff_t>(row * 784), 784, 0.0f);
                b[row] = 0.0f;
            }
    }
    executor small(pruned), ref(zeroed);
    CHECK(small.plan_bytes() < ref.plan_bytes());
    for (const auto& rep : small.report())
        if (rep.op_type == "Gemm") CHECK(rep.path.rfind("f32 linear", 0) == 0);
    const auto test = dataset::fashion_mnist("test");
    const auto x = tensor::copy_of(test.inputs().view().slice(0, 0, 256));
    const auto a = small.run(x.view());
    const auto b = ref.run(x.view());
    const auto av = a.at(0).span<const float>(), bv = b.at(0).span<const float>();
    double err = 0, scale = 0;
    for (std::size_t i = 0; i < av.size(); ++i) {
        err = std::max(err, std::fabs(static_cast<double>(av[i]) - bv[i]));
        scale = std::max(scale, std::fabs(static_cast<double>(bv[i])));
    }
    MESSAGE("pruned (128 of 256 fc1 channels) vs zeroed reference: relative error " << err / scale);
    CHECK(err / scale <= 1e-5);
    // The int8 path runs the smaller shapes too.
    executor q(pruned, {.precision = exec_precision::int8_dynamic});
    const auto c = q.run(x.view());
    CHECK(c.at(0).dims() == shape{256, 10});
    CHECK(q.uses_int8());
}
