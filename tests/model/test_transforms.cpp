// Graph rewrites (hone/model/transforms.hpp): BatchNormalization folded into the Conv before it.
#include "fixture_path.hpp"

#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/model/transforms.hpp>

#include <doctest/doctest.h>

#include <cmath>

using namespace hone;

TEST_CASE("fold_batch_norm: the CNN's two BatchNormalizations fold; outputs are unchanged") {
    const auto m = load_onnx(test::fashion_fixture("cnn.onnx"));
    auto f = m.clone();
    CHECK(fold_batch_norm(f) == 2);
    for (const auto& n : f.nodes)
        CHECK(n.op_type != "BatchNormalization");
    CHECK_FALSE(f.has_weight("bn1.running_mean")); // statistics nothing reads are gone
    CHECK(f.find_node("/conv1/Conv")->outputs[0] == "/bn1/BatchNormalization_output_0");
    CHECK(fold_batch_norm(f) == 0); // nothing left to fold
    // The unfolded model run without the executor's own folding, against the folded one.
    executor_options plain;
    plain.fold_batch_norm = false;
    executor a(m, plain), b(f);
    const auto test = dataset::fashion_mnist("test").subset(64, 3);
    auto x = tensor::copy_of(test.inputs().view());
    const auto v = make_view(x.data(), x.nbytes(), dtype::f32, shape{64, 1, 28, 28});
    const auto ya = std::move(a.run(v).at(0)), yb = std::move(b.run(v).at(0));
    const auto sa = ya.span<const float>(), sb = yb.span<const float>();
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < sa.size(); ++i) {
        worst = std::max(worst, double(std::fabs(sa[i] - sb[i])));
        scale = std::max(scale, double(std::fabs(sa[i])));
    }
    CHECK(worst <= 1e-5 * scale);
}

TEST_CASE("fold_batch_norm: kept weights, shared outputs and training mode stay as they are") {
    const auto m = load_onnx(test::fashion_fixture("cnn.onnx"));
    auto keep = m.clone();
    const std::string w1 = "conv1.weight";
    CHECK(fold_batch_norm(keep, std::span<const std::string>(&w1, 1)) == 1);
    CHECK(keep.find_node("/bn1/BatchNormalization") != nullptr);
    auto training = m.clone();
    for (auto& n : training.nodes)
        if (n.op_type == "BatchNormalization") n.attributes["training_mode"] = attribute::of_int(1);
    CHECK(fold_batch_norm(training) == 0);
    // A Conv output read by something else besides the BatchNormalization is not folded.
    auto shared = m.clone();
    shared.outputs.push_back({"/conv1/Conv_output_0", dtype::f32, {}, false});
    CHECK(fold_batch_norm(shared) == 1);
}
