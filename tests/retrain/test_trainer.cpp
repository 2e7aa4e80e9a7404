// trainable_graph and trainer: forward agrees with the fixtures' torch references, graph
// gradients agree with finite differences end to end, losses and their gradients, the loss
// falls on a fixed batch, determinism, prune-aware masks stay exactly zero, cluster-aware
// weights stay tied to centroids (centroid step = −lr·Σ members' gradients), int4 fake-quant
// QAT, schedules, training from scratch, and the errors for bad input.
#include "../fixture_layer.hpp"
#include "hone/cluster/clusterer.hpp"
#include "hone/core/error.hpp"
#include "hone/data/arrays.hpp"
#include "hone/data/dataset.hpp"
#include "hone/graph/trainer.hpp"
#include "hone/io/onnx.hpp"
#include "hone/prune/pruner.hpp"
#include "hone/quantize/quantizer.hpp"
#include "hone/retrain/lsq.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>

using namespace hone;
namespace fs = std::filesystem;

namespace {

tensor load_npy(const fs::path& p) { return parse_npy(read_maybe_gzip(p), p.string()); }

const dataset& test_split() {
    static const dataset d = dataset::fashion_mnist("test");
    return d;
}
const dataset& train_split() {
    static const dataset d = dataset::fashion_mnist("train");
    return d;
}

tensor first_rows(const dataset& d, std::int64_t n, const shape& sample) {
    std::vector<std::int64_t> dims{n};
    for (auto v : sample.dims())
        dims.push_back(v);
    tensor x(dtype::f32, shape(std::span<const std::int64_t>(dims.data(), dims.size())));
    std::copy(d.inputs().span<float>().begin(), d.inputs().span<float>().begin() + x.numel(),
              x.span<float>().begin());
    return x;
}

std::vector<std::int64_t> first_labels(const dataset& d, std::int64_t n) {
    return {d.labels().begin(), d.labels().begin() + n};
}

double max_abs_diff(const tensor& a, const tensor& b) {
    double m = 0;
    for (std::size_t i = 0; i < a.span<float>().size(); ++i)
        m = std::max(m, double(std::abs(a.span<float>()[i] - b.span<float>()[i])));
    return m;
}

bool same_bytes(const tensor& a, const tensor& b) {
    return a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

/// A small CNN built in memory: Conv(pad 1, stride 1) + BN + Relu + MaxPool + Conv + Add(bias
/// broadcast) + LeakyRelu + GlobalAveragePool + Flatten + Gemm + Tanh + Gemm → logits [N, 3].
model small_cnn(unsigned seed) {
    model m;
    m.inputs.push_back(value_info{"x", dtype::f32, {{-1, "N"}, {2, {}}, {6, {}}, {6, {}}}, true});
    m.outputs.push_back(value_info{"logits", dtype::f32, {{-1, "N"}, {3, {}}}, true});
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-0.5f, 0.5f);
    auto w = [&](const std::string& name, const shape& s, float lo = 0, float hi = 0) {
        tensor t(dtype::f32, s);
        std::uniform_real_distribution<float> v(lo, hi);
        for (float& x : t.span<float>())
            x = hi > lo ? v(rng) : u(rng);
        m.set_weight(name, std::move(t));
    };
    w("c1.w", {4, 2, 3, 3});
    w("c1.b", {4});
    w("bn.scale", {4}, 0.5f, 1.5f);
    w("bn.bias", {4});
    w("bn.mean", {4});
    w("bn.var", {4}, 0.5f, 1.5f);
    w("c2.w", {5, 4, 2, 2});
    w("c2.bias", {1, 5, 1, 1});
    w("fc1.w", {5, 6});
    w("fc1.b", {6});
    w("fc2.w", {3, 6});
    w("fc2.b", {3});
    auto add = [&](std::string op, std::vector<std::string> in, std::string out,
                   std::map<std::string, attribute> attrs = {}) {
        node n;
        n.name = op + "_" + out;
        n.op_type = std::move(op);
        n.inputs = std::move(in);
        n.outputs = {std::move(out)};
        n.attributes = std::move(attrs);
        m.nodes.push_back(std::move(n));
    };
    add("Conv", {"x", "c1.w", "c1.b"}, "a1",
        {{"pads", attribute::of_ints({1, 1, 1, 1})}, {"kernel_shape", attribute::of_ints({3, 3})}});
    add("BatchNormalization", {"a1", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, "a2");
    add("Relu", {"a2"}, "a3");
    add("MaxPool", {"a3"}, "a4",
        {{"kernel_shape", attribute::of_ints({2, 2})}, {"strides", attribute::of_ints({2, 2})}});
    add("Conv", {"a4", "c2.w"}, "a5");
    add("Add", {"a5", "c2.bias"}, "a6");
    add("LeakyRelu", {"a6"}, "a7", {{"alpha", attribute::of_float(0.1f)}});
    add("GlobalAveragePool", {"a7"}, "a8");
    add("Flatten", {"a8"}, "a9");
    add("Gemm", {"a9", "fc1.w", "fc1.b"}, "a10");
    add("Tanh", {"a10"}, "a11");
    add("Gemm", {"a11", "fc2.w", "fc2.b"}, "logits", {{"transB", attribute::of_int(1)}});
    validate(m);
    return m;
}

} // namespace

TEST_CASE("losses: values and gradients by finite differences") {
    tensor s(dtype::f32, shape{3, 4}), t(dtype::f32, shape{3, 4});
    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    for (float& v : s.span<float>())
        v = nd(rng);
    for (float& v : t.span<float>())
        v = nd(rng);
    const std::vector<std::int64_t> labels{2, 0, 3};
    auto check = [&](auto loss) {
        loss_result r = loss();
        for (std::size_t i = 0; i < 12; ++i) {
            const float keep = s.span<float>()[i];
            s.span<float>()[i] = keep + 1e-2f;
            const double lp = loss().loss;
            s.span<float>()[i] = keep - 1e-2f;
            const double lm = loss().loss;
            s.span<float>()[i] = keep;
            CHECK((lp - lm) / 2e-2 ==
                  doctest::Approx(r.dlogits.span<float>()[i]).epsilon(1e-3).scale(1e-3));
        }
        return r.loss;
    };
    const double ce = check([&] { return cross_entropy_loss(s, labels); });
    {
        double ref = 0;
        for (int i = 0; i < 3; ++i) {
            double z = 0;
            for (int j = 0; j < 4; ++j)
                z += std::exp(double(s.span<float>()[i * 4 + j]));
            ref += std::log(z) - s.span<float>()[i * 4 + labels[std::size_t(i)]];
        }
        CHECK(ce == doctest::Approx(ref / 3).epsilon(1e-6));
    }
    check([&] { return distillation_loss(s, t, labels, 3.0f, 0.7f); });
    check([&] { return distillation_loss(s, t, {}, 2.0f, 1.0f); });
    // KL of identical logits is 0
    CHECK(distillation_loss(s, s, {}, 4.0f, 1.0f).loss == doctest::Approx(0.0).scale(1e-9));
    CHECK_THROWS_WITH_AS(distillation_loss(s, t, {}, 4.0f, 0.5f),
                         doctest::Contains("labels are missing"), hone::error);
    CHECK_THROWS_AS(cross_entropy_loss(s, std::vector<std::int64_t>{0, 1, 4}), hone::error);
}

TEST_CASE("trainable_graph: gradients of every weight by finite differences (small CNN)") {
    model m = small_cnn(7);
    trainable_graph g(m);
    const std::set<std::string> params(g.parameters().begin(), g.parameters().end());
    CHECK(params == std::set<std::string>{"c1.w", "c1.b", "bn.scale", "bn.bias", "c2.w", "c2.bias",
                                          "fc1.w", "fc1.b", "fc2.w", "fc2.b"});
    tensor x(dtype::f32, shape{3, 2, 6, 6});
    std::mt19937 rng(8);
    std::uniform_real_distribution<float> u(-1, 1);
    for (float& v : x.span<float>())
        v = u(rng);
    const std::vector<std::int64_t> labels{0, 2, 1};
    auto loss = [&] { return cross_entropy_loss(g.forward(x, true), labels); };
    g.backward(loss().dlogits);
    for (const auto& name : g.parameters()) {
        CAPTURE(name);
        tensor analytic = g.gradient(name).clone();
        auto w = g.weight(name).span<float>();
        double worst = 0, gmax = 0;
        for (std::size_t i = 0; i < w.size(); ++i) {
            const float keep = w[i];
            w[i] = keep + 2e-3f;
            const double lp = loss().loss;
            w[i] = keep - 2e-3f;
            const double lm = loss().loss;
            w[i] = keep;
            worst = std::max(worst, std::abs((lp - lm) / 4e-3 - analytic.span<float>()[i]));
            gmax = std::max(gmax, double(std::abs(analytic.span<float>()[i])));
        }
        CHECK(gmax > 0);
        CHECK(worst <= 5e-3 * std::max(gmax, 0.1));
    }
}

TEST_CASE("trainable_graph forward matches the fixtures' torch logits (MLP and CNN)") {
    const auto dir = fixture::directory();
    REQUIRE_MESSAGE(!dir.empty(), "tests/fixtures/fashion_mnist not found");
    {
        model m = load_onnx(dir / "mlp.onnx");
        trainable_graph g(m);
        CHECK(g.parameters().size() == 6);
        tensor y = g.forward(first_rows(test_split(), 256, shape{784}), false);
        CHECK(max_abs_diff(y, load_npy(dir / "mlp_ref_logits.npy")) < 1e-4);
    }
    {
        model m = load_onnx(dir / "cnn.onnx");
        trainable_graph g(m);
        tensor y = g.forward(first_rows(test_split(), 256, shape{1, 28, 28}), false);
        CHECK(max_abs_diff(y, load_npy(dir / "cnn_ref_logits.npy")) < 1e-4);
        // one training step through Conv/BN/Relu/MaxPool/Flatten/Gemm runs and lowers the
        // loss on its batch
        trainer_config cfg;
        cfg.learning_rate = 0.01f;
        cfg.momentum = 0.0f;
        trainer t(std::move(g), cfg);
        tensor x = first_rows(test_split(), 32, shape{1, 28, 28});
        const auto labels = first_labels(test_split(), 32);
        const double l0 = t.step(x, labels);
        double l = l0;
        for (int i = 0; i < 4; ++i)
            l = t.step(x, labels);
        CHECK(l < l0);
    }
}

TEST_CASE("unsupported ops are named when the graph is built, only on a weight's path") {
    model m = make_mlp({4, 3, 2}, 1);
    node e;
    e.name = "my_atan";
    e.op_type = "Atan"; // the executor runs it; it has no backward pass
    e.inputs = {"logits"};
    e.outputs = {"out"};
    m.nodes.push_back(e);
    m.outputs[0].name = "out";
    CHECK_THROWS_WITH_AS(trainable_graph{m}, doctest::Contains("Atan 'my_atan'"), hone::error);
    // In front of every weight no gradient flows through it: the graph builds.
    model front = make_mlp({4, 3, 2}, 1);
    node a = e;
    a.inputs = {"input"};
    a.outputs = {"atan_out"};
    front.nodes.insert(front.nodes.begin(), a);
    front.nodes[1].inputs[0] = "atan_out";
    CHECK_NOTHROW(trainable_graph{front});
}

TEST_CASE("trainer: loss falls on a fixed batch; same seed → identical bytes") {
    const dataset& d = train_split();
    const dataset sub = d.subset(512, 11);
    auto run = [&](std::uint64_t seed, optimizer_kind opt) {
        model m = make_mlp({784, 32, 10}, 5);
        trainer_config cfg;
        cfg.seed = seed;
        cfg.optimizer = opt;
        cfg.learning_rate = opt == optimizer_kind::adamw ? 1e-3f : 0.05f;
        cfg.weight_decay = 1e-4f;
        cfg.batch_size = 64;
        trainer t(trainable_graph(m), cfg);
        t.fit(sub);
        t.write_back(m);
        return m;
    };
    for (auto opt : {optimizer_kind::sgd, optimizer_kind::adamw}) {
        model a = run(1, opt), b = run(1, opt), c = run(2, opt);
        CHECK(same_bytes(a.weight("fc1.weight"), b.weight("fc1.weight")));
        CHECK(same_bytes(a.weight("fc2.bias"), b.weight("fc2.bias")));
        CHECK_FALSE(same_bytes(a.weight("fc1.weight"), c.weight("fc1.weight")));
    }
    // fixed batch
    model m = make_mlp({784, 32, 10}, 5);
    trainer_config cfg;
    cfg.learning_rate = 0.05f;
    trainer t(trainable_graph(m), cfg);
    tensor x = first_rows(d, 64, shape{784});
    const auto labels = first_labels(d, 64);
    const double l0 = t.step(x, labels);
    double l = l0;
    for (int i = 0; i < 30; ++i)
        l = t.step(x, labels);
    CHECK(l < 0.5 * l0);
}

TEST_CASE("learning-rate schedules reach the callback") {
    const dataset sub = train_split().subset(256, 3);
    std::vector<float> lrs;
    trainer_config cfg;
    cfg.batch_size = 32; // 8 steps per epoch
    cfg.epochs = 2;
    cfg.learning_rate = 0.1f;
    SUBCASE("cosine") {
        cfg.schedule = lr_schedule::cosine;
        cfg.min_learning_rate = 0.01f;
        trainer t(trainable_graph(make_mlp({784, 8, 10}, 1)), cfg);
        t.fit(sub, [&](const train_progress& p) {
            lrs.push_back(p.learning_rate);
            CHECK(p.total_steps == 16);
            return true;
        });
        REQUIRE(lrs.size() == 16);
        CHECK(lrs[0] == doctest::Approx(0.1));
        CHECK(lrs[8] == doctest::Approx(0.01 + 0.5 * 0.09 * (1 + std::cos(M_PI * 0.5))));
        CHECK(lrs[15] < 0.0115f);
    }
    SUBCASE("step, and the callback stops the run") {
        cfg.schedule = lr_schedule::step;
        cfg.step_size = 4;
        cfg.gamma = 0.5f;
        trainer t(trainable_graph(make_mlp({784, 8, 10}, 1)), cfg);
        auto reps = t.fit(sub, [&](const train_progress& p) {
            lrs.push_back(p.learning_rate);
            return p.step < 10;
        });
        REQUIRE(lrs.size() == 10);
        CHECK(lrs[3] == doctest::Approx(0.1));
        CHECK(lrs[4] == doctest::Approx(0.05));
        CHECK(lrs[9] == doctest::Approx(0.025));
        CHECK(reps.back().stopped);
        CHECK(t.steps_done() == 10);
    }
}

TEST_CASE("prune-aware fine-tuning: masks stay exactly zero; gradual schedule") {
    const auto dir = fixture::directory();
    REQUIRE(!dir.empty());
    model base = load_onnx(dir / "mlp.onnx");
    model m = base.clone();
    const std::string w1 = m.nodes[0].inputs[1];
    tensor w = m.weight(w1).clone();
    tensor mask(dtype::u8, w.dims());
    prune_magnitude(w.view(), 0.9, mask.view(), w1);
    trainer_config cfg;
    cfg.loss = loss_kind::distillation;
    cfg.distill_alpha = 0.5f;
    cfg.learning_rate = 0.01f;
    cfg.max_steps = 20;
    trainer t(trainable_graph(m), cfg);
    t.set_teacher(base);
    t.set_mask(w1, mask);
    t.fit(train_split().subset(2048, 1));
    t.write_back(m);
    const auto ws = m.weight(w1).span<float>();
    const auto ms = mask.span<std::uint8_t>();
    std::int64_t zeros = 0, changed = 0;
    for (std::size_t i = 0; i < ws.size(); ++i) {
        if (!ms[i]) {
            CHECK(std::bit_cast<std::uint32_t>(ws[i]) == 0u); // +0 exactly
            ++zeros;
        } else if (ws[i] != w.span<float>()[i]) {
            ++changed;
        }
    }
    CHECK(zeros == std::int64_t(std::llround(0.9 * double(ws.size()))));
    CHECK(changed > 0); // kept weights did train

    // gradual: polynomial 0 → 0.8 over steps 0…10, recomputed every 2 steps
    model g = base.clone();
    trainer_config c2;
    c2.max_steps = 12;
    c2.learning_rate = 0.01f;
    trainer t2(trainable_graph(g), c2);
    sparsity_schedule sch;
    sch.final_sparsity = 0.8;
    sch.begin_step = 0;
    sch.end_step = 10;
    sch.frequency = 2;
    t2.set_pruning_schedule({w1}, sch);
    t2.fit(train_split().subset(1024, 2));
    t2.write_back(g);
    CHECK(sparsity_of(g.weight(w1)) == doctest::Approx(0.8).epsilon(1e-3));
    CHECK_THROWS_AS(t2.set_mask("nope", mask), hone::error);
}

TEST_CASE("prune-aware: a gradual schedule with one global threshold (prune_global)") {
    model m = make_mlp({784, 64, 32, 10}, 11);
    const std::vector<std::string> names{"fc1.weight", "fc2.weight", "fc3.weight"};
    // reference: prune_global of the initial weights, every layer capped at 82% (binding for
    // fc1, whose He-uniform weights are the smallest)
    std::vector<tensor> ref_w, ref_m;
    std::vector<global_layer> layers;
    for (const auto& n : names) {
        ref_w.push_back(m.weight(n).clone());
        ref_m.push_back(tensor(dtype::u8, m.weight(n).dims()));
    }
    for (std::size_t i = 0; i < names.size(); ++i)
        layers.push_back(global_layer{names[i], ref_w[i].view(), 0.0, 0.82, ref_m[i].view()});
    const auto reports = prune_global(layers, 0.8);
    CHECK(reports[0].pruned == std::int64_t(0.82 * 784 * 64)); // the bound binds

    trainer_config cfg;
    cfg.learning_rate = 0.01f;
    cfg.max_steps = 3;
    trainer t(trainable_graph(m), cfg);
    sparsity_schedule sch;
    sch.kind = schedule_kind::constant;
    sch.final_sparsity = 0.8;
    sch.frequency = 1000; // prunes at step 0 only
    pruning_scope scope;
    scope.max_layer_sparsity = 0.82;
    t.set_pruning_schedule(names, sch, scope);
    t.fit(train_split().subset(256, 3));
    t.write_back(m);
    std::int64_t zeros = 0, total = 0;
    for (std::size_t i = 0; i < names.size(); ++i) {
        CHECK(same_bytes(t.mask(names[i]), ref_m[i])); // the same masks as prune_global
        zeros += std::int64_t(
            std::llround(sparsity_of(m.weight(names[i])) * double(m.weight(names[i]).numel())));
        total += m.weight(names[i]).numel();
    }
    CHECK(zeros == std::llround(0.8 * double(total)));
    // the layers differ: one threshold, not 80% each
    CHECK(sparsity_of(m.weight("fc1.weight")) > 0.81);
    CHECK(sparsity_of(m.weight("fc1.weight")) <= 0.82);
    CHECK(sparsity_of(m.weight("fc3.weight")) < 0.5);

    // per-layer scope gives exactly 80% in each layer
    model m2 = make_mlp({784, 64, 32, 10}, 11);
    trainer t2(trainable_graph(m2), cfg);
    t2.set_pruning_schedule(names, sch, pruning_scope{false});
    t2.fit(train_split().subset(256, 3));
    t2.write_back(m2);
    for (const auto& n : names)
        CHECK(sparsity_of(m2.weight(n)) == doctest::Approx(0.8).epsilon(1e-2));

    pruning_scope bad;
    bad.max_layer_sparsity = 1.0;
    CHECK_THROWS_AS(t2.set_pruning_schedule(names, sch, bad), hone::error);
    bad.max_layer_sparsity = 0.5;
    bad.min_layer_sparsity = 0.7;
    CHECK_THROWS_AS(t2.set_pruning_schedule(names, sch, bad), hone::error);
    CHECK_THROWS_AS(t2.set_pruning_schedule({}, sch, pruning_scope{}), hone::error);
}

TEST_CASE("cluster-aware fine-tuning: weights tied to centroids, centroid step = −lr·Σ grads") {
    model m = make_mlp({784, 16, 10}, 3);
    clusterer_config cc;
    cc.clusters = 8;
    palettized_tensor p = clusterer(cc).cluster(m.weight("fc1.weight"), {}, "fc1.weight");
    const tensor before = p.dequantize();
    const tensor idx = p.indices();
    trainer_config cfg;
    cfg.learning_rate = 1e-3f;
    cfg.momentum = 0;
    trainer t(trainable_graph(m), cfg);
    t.set_clustered("fc1.weight", std::move(p));
    tensor x = first_rows(train_split(), 32, shape{784});
    const auto labels = first_labels(train_split(), 32);
    t.step(x, labels);
    // expected centroid moves from the gradient the step saw
    const tensor& grad = t.graph().gradient("fc1.weight");
    std::vector<double> sums(8, 0.0);
    for (std::size_t i = 0; i < grad.span<float>().size(); ++i)
        sums[idx.span<std::uint8_t>()[i]] += grad.span<float>()[i];
    const tensor after = t.clustered("fc1.weight").dequantize();
    std::set<float> distinct;
    for (std::size_t i = 0; i < after.span<float>().size(); ++i) {
        const auto c = idx.span<std::uint8_t>()[i];
        CHECK(after.span<float>()[i] ==
              doctest::Approx(before.span<float>()[i] - 1e-3 * sums[c]).epsilon(1e-5));
        distinct.insert(after.span<float>()[i]);
    }
    CHECK(distinct.size() <= 8);
    t.write_back(m);
    CHECK(same_bytes(m.weight("fc1.weight"), after));
}

TEST_CASE("QAT: int4 per-channel fake-quant weights and 8-bit activations train") {
    model m = make_mlp({784, 32, 10}, 4);
    trainer_config cfg;
    cfg.learning_rate = 0.05f;
    cfg.activation_bits = 8;
    trainer t(trainable_graph(m), cfg);
    quant_spec spec;
    spec.bits = 4;
    spec.granularity = quant_granularity::per_channel;
    t.set_fake_quant("fc1.weight", spec);
    tensor x = first_rows(train_split(), 64, shape{784});
    const auto labels = first_labels(train_split(), 64);
    const double l0 = t.step(x, labels);
    double l = l0;
    for (int i = 0; i < 30; ++i)
        l = t.step(x, labels);
    CHECK(l < 0.6 * l0);
    t.write_back(m);
    const tensor& w = m.weight("fc1.weight");
    for (std::int64_t r = 0; r < 32; ++r) {
        std::set<float> row(w.span<float>().begin() + r * 784,
                            w.span<float>().begin() + (r + 1) * 784);
        CHECK(row.size() <= 16);
    }
    // the exported weights go through the normal quantized path unchanged: RTN of them again
    // gives back the same values
    const tensor again = quantizer(quantizer_config{spec}).quantize(w, "fc1.weight").dequantize();
    CHECK(max_abs_diff(again, w) < 1e-6);
}

TEST_CASE("QAT of a pruned weight keeps its mask (plain and LSQ)") {
    for (const bool lsq : {false, true}) {
        CAPTURE(lsq);
        model m = make_mlp({784, 32, 10}, 4);
        tensor mask(dtype::f32, {32, 784});
        auto ms = mask.span<float>();
        for (std::size_t i = 0; i < ms.size(); ++i)
            ms[i] = (i % 4 == 0) ? 1.0f : 0.0f; // 75% pruned
        trainer_config cfg;
        cfg.learning_rate = 0.05f;
        cfg.learned_scales = lsq;
        trainer t(trainable_graph(m), cfg);
        t.set_mask("fc1.weight", mask);
        quant_spec spec;
        spec.bits = 4;
        spec.granularity = quant_granularity::per_channel;
        t.set_fake_quant("fc1.weight", spec);
        CHECK(t.mask("fc1.weight").numel() == 32 * 784);
        tensor x = first_rows(train_split(), 64, shape{784});
        const auto labels = first_labels(train_split(), 64);
        for (int i = 0; i < 5; ++i)
            t.step(x, labels);
        t.write_back(m);
        const auto w = m.weight("fc1.weight").span<float>();
        std::size_t kept_nonzero = 0;
        for (std::size_t i = 0; i < w.size(); ++i) {
            if (ms[i] == 0.0f) REQUIRE(std::bit_cast<std::uint32_t>(w[i]) == 0u); // exactly +0
            kept_nonzero += ms[i] != 0.0f && w[i] != 0.0f;
        }
        CHECK(kept_nonzero > w.size() / 8); // the kept quarter still trains (most are nonzero)
    }
    model m = make_mlp({784, 32, 10}, 4);
    trainer t(trainable_graph(m), trainer_config{});
    clusterer_config cc;
    cc.clusters = 4;
    t.set_clustered("fc1.weight", clusterer(cc).cluster(m.weight("fc1.weight"), {}, "fc1.weight"));
    CHECK_THROWS_AS(t.set_fake_quant("fc1.weight", quant_spec{}), hone::error);
}

TEST_CASE("LSQ QAT: scales start at RTN, train by the LSQ gradient, export exactly") {
    model m = make_mlp({784, 32, 10}, 4);
    const tensor w0 = m.weight("fc1.weight").clone();
    quant_spec spec;
    spec.bits = 4;
    spec.granularity = quant_granularity::per_channel;
    trainer_config cfg;
    cfg.learning_rate = 0.02f;
    cfg.momentum = 0.0f;
    cfg.learned_scales = true;
    cfg.scale_lr_scale = 0.5f;
    trainer t(trainable_graph(m), cfg);
    t.set_fake_quant("fc1.weight", spec);
    // before training: exactly the RTN fake-quant weights and scales
    const quantized_tensor rtn = quantizer(quantizer_config{spec}).quantize(w0, "fc1.weight");
    const quantized_tensor q0 = t.quantized("fc1.weight");
    CHECK(q0.scale_values() == rtn.scale_values());
    CHECK(q0.values() == rtn.values());
    {
        model c = m.clone();
        t.write_back(c);
        CHECK(same_bytes(c.weight("fc1.weight"), rtn.dequantize()));
    }
    // one SGD step: scale ← s − lr·0.5·dL/ds (LSQ), latent ← w − lr·dL/dw (STE, clipped → 0)
    tensor x = first_rows(train_split(), 64, shape{784});
    const auto labels = first_labels(train_split(), 64);
    const std::vector<float> s0 = q0.scale_values();
    t.step(x, labels);
    const retrain::lsq_grads g =
        retrain::lsq_backward(w0, spec, s0, {}, t.graph().gradient("fc1.weight"));
    const std::vector<float> s1 = t.quantized("fc1.weight").scale_values();
    int moved = 0;
    for (std::size_t c = 0; c < s0.size(); ++c) {
        CHECK(s1[c] == doctest::Approx(s0[c] - 0.02 * 0.5 * g.dscales[c]).epsilon(1e-6));
        moved += s1[c] != s0[c];
    }
    CHECK(moved > 16);
    // a few more steps: the loss falls; the export stays exact
    const double l0 = t.step(x, labels);
    double l = l0;
    for (int i = 0; i < 20; ++i)
        l = t.step(x, labels);
    CHECK(l < l0);
    const quantized_tensor qt = t.quantized("fc1.weight");
    qt.validate("fc1.weight");
    model out = m.clone();
    t.write_back(out);
    CHECK(same_bytes(out.weight("fc1.weight"), qt.dequantize()));
    CHECK(qt.scale_values() != s0);
    // errors
    CHECK_THROWS_AS(t.quantized("fc2.weight"), hone::error);
    spec.scale_type = dtype::f16;
    CHECK_THROWS_AS(t.set_fake_quant("fc2.weight", spec), hone::error);
    trainer_config bad;
    bad.scale_lr_scale = 0.0f;
    CHECK_THROWS_AS(trainer(trainable_graph(m), bad), hone::error);
}

TEST_CASE("from scratch: an MLP trained by hone learns Fashion-MNIST (subset)") {
    model m = make_mlp({784, 64, 10}, 42);
    trainer_config cfg;
    cfg.optimizer = optimizer_kind::adamw;
    cfg.learning_rate = 2e-3f;
    cfg.epochs = 2;
    cfg.batch_size = 64;
    cfg.schedule = lr_schedule::cosine;
    trainer t(trainable_graph(m), cfg);
    const dataset test = test_split().subset(1000, 1);
    const double a0 = t.evaluate(test);
    t.fit(train_split().subset(4000, 1));
    const double a1 = t.evaluate(test);
    CHECK(a0 < 0.3);
    CHECK(a1 > 0.75);
    t.write_back(m);
    CHECK(evaluate_accuracy(m, test) == doctest::Approx(a1));
}

TEST_CASE("bad input: labels missing, non-finite loss, bad config, wrong shapes") {
    model m = make_mlp({784, 8, 10}, 1);
    tensor x = first_rows(train_split(), 8, shape{784});
    {
        trainer t(trainable_graph(m), trainer_config{});
        CHECK_THROWS_WITH_AS(t.step(x, {}), doctest::Contains("labels are missing"), hone::error);
        trainer_config kd;
        kd.loss = loss_kind::distillation;
        trainer t2(trainable_graph(m), kd);
        CHECK_THROWS_WITH_AS(t2.step(x, {}), doctest::Contains("set_teacher"), hone::error);
        const dataset unlabeled(tensor::copy_of(x), {}, "unlabeled");
        CHECK_THROWS_WITH_AS(t.fit(unlabeled), doctest::Contains("no labels"), hone::error);
    }
    {
        tensor bad = x.clone();
        bad.span<float>()[3] = INFINITY;
        trainer t(trainable_graph(m), trainer_config{});
        CHECK_THROWS_WITH_AS(t.step(bad, first_labels(train_split(), 8)),
                             doctest::Contains("not finite"), hone::error);
    }
    trainer_config c;
    c.learning_rate = -1;
    CHECK_THROWS_WITH_AS(trainer(trainable_graph(m), c), doctest::Contains("learning_rate"),
                         hone::error);
    c = {};
    c.batch_size = 0;
    CHECK_THROWS_WITH_AS(trainer(trainable_graph(m), c), doctest::Contains("batch_size"),
                         hone::error);
    trainer t(trainable_graph(m), trainer_config{});
    CHECK_THROWS_AS(t.set_mask("fc1.weight", tensor(dtype::u8, shape{3, 3})), hone::error);
    quant_spec s;
    s.bits = 12;
    CHECK_THROWS_AS(t.set_fake_quant("fc1.weight", s), hone::error);
}
