// trainable_graph's forward (the executor's plan with the weights as inputs, nothing fused) against
// the executor as validation and deployment run it (BatchNormalization folded, activations
// fused, NHWC chains) on every committed fixture: the Fashion-MNIST models, the torchvision
// corpus and the language model. The two differ only by the rounding of the folds and fusions:
// the bound is 1e-5 of the output's scale. Every fixture must also train (a backward pass on
// every weight's path) except text_detector, whose ConvTranspose has none: it is compared with
// its weights frozen. Then gradients through whole fixtures are checked by
// finite differences (the LM's RMSNorm, attention and embedding; the SE block's HardSwish path).
#include "../models/corpus.hpp"
#include "grad_check.hpp"
#include "hone/core/error.hpp"
#include "hone/graph/executor.hpp"
#include "hone/graph/trainable_graph.hpp"
#include "hone/io/onnx.hpp"
#include "hone/retrain/loss.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <set>

using namespace hone;
namespace fs = std::filesystem;
namespace corpus = hone::test::corpus;

namespace {

/// The fixture's committed input (<stem>_input.npy or the corpus' test input), else uniform
/// [0, 1) values in the declared shape with dynamic dims of 2.
tensor input_for(const fs::path& onnx, const model& m) {
    const auto stem = onnx.stem().string();
    for (const auto& p :
         {onnx.parent_path() / (stem + "_input.npy"), onnx.parent_path() / (stem + ".input.npy")})
        if (fs::exists(p)) return parse_npy(read_maybe_gzip(p), p.string());
    std::vector<std::int64_t> dims;
    for (const auto& d : m.inputs.at(0).dims)
        dims.push_back(d.is_static() ? d.size : 2);
    tensor x(dtype::f32, shape(std::span<const std::int64_t>(dims)));
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (float& v : x.span<float>())
        v = u(rng);
    return x;
}

/// The first rows of the LM's held-out tokens.
tensor lm_tokens(std::int64_t rows, std::int64_t length) {
    const auto p = test::fixtures_dir() / "lm" / "tokens.eval.npy";
    const tensor all = parse_npy(read_maybe_gzip(p), p.string());
    tensor t(dtype::i64, shape{rows, length});
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < length; ++c)
            t.span<std::int64_t>()[std::size_t(r * length + c)] =
                all.span<std::int64_t>()[std::size_t(r * all.dims()[1] + c)];
    return t;
}

std::vector<fs::path> fixtures() {
    std::vector<fs::path> files;
    for (const char* dir : {"fashion_mnist", "corpus"})
        for (const auto& e : fs::directory_iterator(test::fixtures_dir() / dir))
            if (e.path().extension() == ".onnx") files.push_back(e.path());
    files.push_back(test::fixtures_dir() / "lm" / "model.onnx");
    std::sort(files.begin(), files.end());
    return files;
}

const std::set<std::string> forward_only{"text_detector"}; // ConvTranspose has no backward

} // namespace

TEST_CASE("the training forward is the executor's forward on every committed fixture") {
    const auto files = fixtures();
    CHECK(files.size() >= 23);
    for (const auto& f : files) {
        const auto stem = f.stem().string();
        CAPTURE(f.string());
        const model m = load_onnx(f);
        const tensor x = stem == "model" ? lm_tokens(2, 64) : input_for(f, m);
        const tensor ref = std::move(executor(m).run(x.view()).at(0));
        std::vector<std::string> frozen;
        if (forward_only.count(stem)) {
            CHECK_THROWS_WITH_AS(trainable_graph{m}, doctest::Contains("no backward pass"),
                                 hone::error);
            frozen = m.weight_names();
        }
        trainable_graph g(m, frozen);
        if (frozen.empty()) CHECK(!g.parameters().empty());
        const tensor y = g.forward(x.view(), false);
        const double rel = corpus::relative_max_error(y.view(), ref.view());
        MESSAGE(stem << ": " << g.parameters().size() << " trainable weights, max |train − "
                     << "executor| = " << rel << " of the output scale");
        CHECK(rel <= 1e-5);
    }
}

namespace {

/// Checks dL/dW of trainable weight `name` of g by central differences on a sample of its
/// elements, L = Σ r·output.
void check_weight_gradient(trainable_graph& g, const tensor& x, const std::string& name,
                           unsigned seed, double tol = 5e-3, double eps = 1e-2,
                           std::size_t samples = 300) {
    CAPTURE(name);
    tensor r;
    {
        const tensor y = g.forward(x.view(), true);
        r = test::random_tensor(y.dims(), seed);
        g.backward(r.view());
    }
    const tensor analytic = g.gradient(name).clone();
    tensor& w = g.weight(name);
    auto f = [&] { return g.forward(x.view(), false); };
    test::check_gradient(w, f, r, analytic, eps, tol, samples);
}

} // namespace

TEST_CASE("gradients through whole fixtures match finite differences") {
    SUBCASE("language model: embedding, RMSNorm gains, layer 0's projections, head") {
        const model m = load_onnx(test::fixtures_dir() / "lm" / "model.onnx");
        trainable_graph g(m);
        const tensor x = lm_tokens(1, 12);
        MESSAGE("LM trainable weights: " << g.parameters().size());
        // The export names the projections onnx::MatMul_<n>, layer 0's first: take its 7
        // (q, k, v, o, gate, up, down) and the head (the last).
        std::vector<std::string> picked;
        int projections = 0;
        for (const auto& p : g.parameters()) {
            const bool projection = p.rfind("onnx::MatMul", 0) == 0;
            if (projection && ++projections > 7) continue;
            if (projection || p.find("embed") != std::string::npos ||
                p.find("norm") != std::string::npos)
                picked.push_back(p);
        }
        picked.push_back(g.parameters().back());
        CHECK(picked.size() >= 16);
        for (std::size_t i = 0; i < picked.size(); ++i)
            check_weight_gradient(g, x, picked[i], 11u + unsigned(i), 2e-2, 1e-2, 40);
    }
    SUBCASE("mobile block: depthwise Conv, HardSigmoid squeeze-excite, Clip, AveragePool, Resize") {
        const model m = load_onnx(test::fixtures_dir() / "fashion_mnist" / "mobile_block.onnx");
        trainable_graph g(m);
        const tensor x = input_for(test::fixtures_dir() / "fashion_mnist" / "mobile_block.onnx", m);
        CHECK(g.parameters().size() >= 10);
        for (const auto& p : g.parameters())
            check_weight_gradient(g, x, p, 31, 5e-3, 1e-3); // small steps: ReLU/Clip kinks
    }
}

TEST_CASE(
    "layer-wise distillation: a seed on an intermediate value reaches only the weights before it") {
    const model m = load_onnx(test::fixtures_dir() / "fashion_mnist" / "cnn.onnx");
    trainable_graph g(m);
    const tensor x = input_for(test::fixtures_dir() / "fashion_mnist" / "cnn.onnx", m);
    g.forward(x.view(), true);
    // The first Conv's output: only conv1's weights lie before it.
    const std::string first = m.nodes.at(0).outputs.at(0);
    const tensor& v = g.value(first);
    const tensor target = test::random_tensor(v.dims(), 5);
    const loss_result l = mse_loss(v.view(), target.view());
    const trainable_graph::seed s{first, l.dlogits.view()};
    g.backward(std::span<const trainable_graph::seed>(&s, 1));
    int nonzero = 0, zero = 0;
    for (const auto& p : g.parameters()) {
        double sum = 0;
        for (float e : g.gradient(p).span<float>())
            sum += std::abs(e);
        const bool before = p == m.nodes[0].inputs.at(1) ||
                            (m.nodes[0].inputs.size() > 2 && p == m.nodes[0].inputs[2]);
        CAPTURE(p);
        CHECK((sum > 0) == before);
        (sum > 0 ? nonzero : zero) += 1;
    }
    CHECK(nonzero >= 1);
    CHECK(zero >= 1);
    CHECK_THROWS_AS(g.value("no such value"), hone::error);
}
