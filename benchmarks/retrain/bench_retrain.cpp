// Retraining on Fashion-MNIST. Each benchmark checks that training does something (loss falls,
// accuracy rises) before it reports. Speed is a ratio measured in the same run: the time of one
// training epoch over the time of one epoch of forward passes of the same graph (x_forward).
// Accuracy figures (test split, 10,000 images) are counters; the fine-tuning benchmarks run once
// (Iterations(1)) and take minutes on a loaded machine. Overrides (environment):
// BM_prune90_finetune — see its comment; BM_cluster_finetune — HONE_RETRAIN_EPOCHS (default 2),
// HONE_CLUSTER_LR_SCALE (centroid step scale, default 0.05); BM_int4_qat — HONE_LSQ_SCALE_LR;
// BM_mlp_from_scratch — HONE_SCRATCH_EPOCHS (default 10).
#include <hone/cluster/clusterer.hpp>
#include <hone/core/threads.hpp>
#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>
#include <hone/graph/trainer.hpp>
#include <hone/io/onnx.hpp>
#include <hone/prune/pruner.hpp>
#include <hone/quantize/quantizer.hpp>

#include <algorithm>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

fs::path fixture(const char* name) {
    std::vector<fs::path> starts{fs::current_path()};
    std::error_code ec;
    const auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) starts.push_back(exe.parent_path());
    for (auto dir : starts)
        for (; !dir.empty(); dir = dir.parent_path()) {
            const auto c = dir / "tests" / "fixtures" / "fashion_mnist" / name;
            if (fs::exists(c)) return c;
            if (dir == dir.parent_path()) break;
        }
    throw std::runtime_error(std::string("fixture not found: ") + name);
}

const hone::dataset& train() {
    static const hone::dataset d = hone::dataset::fashion_mnist("train");
    return d;
}
const hone::dataset& test() {
    static const hone::dataset d = hone::dataset::fashion_mnist("test");
    return d;
}

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v ? std::atoi(v) : fallback;
}

float env_float(const char* name, float fallback) {
    const char* v = std::getenv(name);
    return v ? float(std::atof(v)) : fallback;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> layer_weights(const hone::model& m) {
    std::vector<std::string> r;
    for (const auto& n : m.nodes)
        if (n.op_type == "Gemm") r.push_back(n.inputs[1]);
    return r;
}

/// One epoch of training from scratch vs one epoch of forward passes of the same graph.
void BM_train_epoch_vs_forward(benchmark::State& state) {
    const hone::dataset& d = train();
    double train_t = 0, fwd_t = 0;
    for (auto _ : state) {
        hone::model m = hone::make_mlp({784, 256, 128, 10}, 1);
        hone::trainer_config cfg;
        cfg.optimizer = hone::optimizer_kind::adamw;
        cfg.learning_rate = 1e-3f;
        cfg.batch_size = 128;
        hone::trainer t(hone::trainable_graph(m), cfg);
        auto t0 = std::chrono::steady_clock::now();
        const auto rep = t.fit(d);
        train_t += seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        const double acc = t.evaluate(d, 128); // one epoch of forward passes (no saving)
        fwd_t += seconds_since(t0);
        if (!(acc > 0.75) || !(rep[0].mean_loss < 1.0))
            state.SkipWithError("training did not learn");
        state.counters["train_acc"] = acc;
    }
    state.counters["x_forward"] = train_t / fwd_t;
    state.counters["threads"] = hone::num_threads();
}

/// Sparsity of all Gemm weights of m together (biases not counted).
double gemm_sparsity(const hone::model& m) {
    double zeros = 0, total = 0;
    for (const auto& w : layer_weights(m)) {
        zeros += hone::sparsity_of(m.weight(w)) * double(m.weight(w).numel());
        total += double(m.weight(w).numel());
    }
    return zeros / total;
}

/// The MLP fixture pruned to 90% of all its Gemm weights (biases not counted) by one global
/// magnitude threshold (prune_global, each layer at most 99%). One-shot figures: that global
/// pruning and 90% per layer. Fine-tuning: 3 epochs, a TFMOT-style gradual polynomial schedule
/// (global threshold) from 50% at step 0 to 90% at 1/3 of the run (mask recomputed every 50
/// steps), then 90% held; distillation from the unpruned model (alpha 0.7, T = 4); AdamW 2e-3
/// with cosine decay, batch 128. Overrides: HONE_RETRAIN_EPOCHS, HONE_RETRAIN_LR,
/// HONE_DISTILL_ALPHA, HONE_DISTILL_T, HONE_PRUNE_INITIAL, HONE_PRUNE_END (fraction of the run),
/// HONE_PRUNE_GLOBAL (0: per-layer magnitude), HONE_RETRAIN_SEED (data order, default 0).
void BM_prune90_finetune(benchmark::State& state) {
    for (auto _ : state) {
        hone::model base = hone::load_onnx(fixture("mlp.onnx"));
        const double a_base = hone::evaluate_accuracy(base, test());
        const std::vector<std::string> names = layer_weights(base);
        // one-shot: per layer and global
        hone::model per_layer = base.clone(), global = base.clone();
        for (const auto& w : names)
            hone::prune_magnitude(per_layer.weight(w).view(), 0.9, {}, w);
        std::vector<hone::global_layer> layers;
        for (const auto& w : names)
            layers.push_back(hone::global_layer{w, global.weight(w).view(), 0.0, 0.99, {}});
        hone::prune_global(layers, 0.9);
        const double a_oneshot_layer = hone::evaluate_accuracy(per_layer, test());
        const double a_oneshot_global = hone::evaluate_accuracy(global, test());

        hone::model m = base.clone();
        hone::trainer_config cfg;
        cfg.epochs = env_int("HONE_RETRAIN_EPOCHS", 3);
        cfg.optimizer = hone::optimizer_kind::adamw;
        cfg.learning_rate = env_float("HONE_RETRAIN_LR", 2e-3f);
        cfg.schedule = hone::lr_schedule::cosine;
        cfg.batch_size = 128;
        cfg.loss = hone::loss_kind::distillation;
        cfg.distill_alpha = env_float("HONE_DISTILL_ALPHA", 0.7f);
        cfg.temperature = env_float("HONE_DISTILL_T", 4.0f);
        cfg.seed = std::uint64_t(env_int("HONE_RETRAIN_SEED", 0));
        hone::trainer t(hone::trainable_graph(m), cfg);
        t.set_teacher(base);
        const std::int64_t steps = t.plan(train().size());
        hone::sparsity_schedule sched;
        sched.kind = hone::schedule_kind::polynomial;
        sched.initial_sparsity = env_float("HONE_PRUNE_INITIAL", 0.5f);
        sched.final_sparsity = 0.9;
        sched.begin_step = 0;
        sched.end_step = std::max<std::int64_t>(
            1, std::int64_t(double(steps) * env_float("HONE_PRUNE_END", 1.0f / 3.0f)));
        sched.frequency = 50;
        // the last pruning step must land exactly on end_step
        sched.end_step -= sched.end_step % sched.frequency;
        hone::pruning_scope scope;
        scope.global = env_int("HONE_PRUNE_GLOBAL", 1) != 0;
        t.set_pruning_schedule(names, sched, scope);
        const auto t0 = std::chrono::steady_clock::now();
        t.fit(train());
        const double train_s = seconds_since(t0);
        const double a_ft = t.evaluate(test());
        t.write_back(m);
        const double sparsity = gemm_sparsity(m);
        if (std::abs(sparsity - 0.9) > 1e-4) state.SkipWithError("not 90% sparse");
        if (!(a_ft > a_oneshot_global)) state.SkipWithError("fine-tuning did not recover accuracy");
        state.counters["acc_base"] = a_base;
        state.counters["acc_oneshot_layer"] = a_oneshot_layer;
        state.counters["acc_oneshot_global"] = a_oneshot_global;
        state.counters["acc_finetuned"] = a_ft;
        state.counters["drop_oneshot_global_pts"] = 100 * (a_base - a_oneshot_global);
        state.counters["drop_finetuned_pts"] = 100 * (a_base - a_ft);
        state.counters["sparsity"] = sparsity;
        for (std::size_t i = 0; i < names.size(); ++i)
            state.counters["sparsity_fc" + std::to_string(i + 1)] =
                hone::sparsity_of(m.weight(names[i]));
        state.counters["epochs"] = cfg.epochs;
        state.counters["train_s"] = train_s;
    }
}

/// k clusters per layer (per tensor), then cluster-aware fine-tuning with distillation.
void BM_cluster_finetune(benchmark::State& state) {
    const int k = int(state.range(0));
    for (auto _ : state) {
        hone::model base = hone::load_onnx(fixture("mlp.onnx"));
        const double a_base = hone::evaluate_accuracy(base, test());
        hone::model m = base.clone();
        hone::trainer_config cfg;
        cfg.epochs = env_int("HONE_RETRAIN_EPOCHS", 2);
        cfg.learning_rate = 2e-4f;
        cfg.momentum = 0.0f;
        cfg.batch_size = 128;
        cfg.loss = hone::loss_kind::distillation;
        cfg.distill_alpha = 0.5f;
        cfg.cluster_lr_scale = env_float("HONE_CLUSTER_LR_SCALE", 0.05f);
        hone::trainer t(hone::trainable_graph(m), cfg);
        t.set_teacher(base);
        hone::clusterer_config cc;
        cc.clusters = k;
        for (const auto& w : layer_weights(m))
            t.set_clustered(w, hone::clusterer(cc).cluster(m.weight(w), {}, w));
        const double a_oneshot = t.evaluate(test());
        t.fit(train());
        const double a_ft = t.evaluate(test());
        state.counters["acc_base"] = a_base;
        state.counters["acc_oneshot"] = a_oneshot;
        state.counters["acc_finetuned"] = a_ft;
        state.counters["drop_oneshot_pts"] = 100 * (a_base - a_oneshot);
        state.counters["drop_finetuned_pts"] = 100 * (a_base - a_ft);
        state.counters["clusters"] = k;
    }
}

/// int4 per-channel symmetric weights: RTN (post-training) vs 1 epoch of QAT (fake quant, STE)
/// vs 1 epoch of LSQ-QAT (learned scales, same recipe; HONE_LSQ_SCALE_LR scales the scales'
/// learning rate, default 1). The LSQ model is checked to export exactly: the quantized
/// tensors' dequantized values are the weights the forward used.
void BM_int4_qat(benchmark::State& state) {
    for (auto _ : state) {
        hone::model base = hone::load_onnx(fixture("mlp.onnx"));
        const double a_base = hone::evaluate_accuracy(base, test());
        hone::quant_spec spec;
        spec.bits = 4;
        spec.granularity = hone::quant_granularity::per_channel;
        hone::model rtn = base.clone();
        for (const auto& w : layer_weights(rtn))
            rtn.weight(w) = hone::quantizer(hone::quantizer_config{spec})
                                .quantize(rtn.weight(w), w)
                                .dequantize();
        const double a_rtn = hone::evaluate_accuracy(rtn, test());
        double acc[2] = {0, 0};
        for (int lsq = 0; lsq < 2; ++lsq) {
            hone::model m = base.clone();
            hone::trainer_config cfg;
            cfg.epochs = 1;
            cfg.optimizer = hone::optimizer_kind::adamw;
            cfg.learning_rate = 2e-4f;
            cfg.schedule = hone::lr_schedule::cosine;
            cfg.batch_size = 128;
            cfg.loss = hone::loss_kind::distillation;
            cfg.distill_alpha = 0.5f;
            cfg.learned_scales = lsq == 1;
            cfg.scale_lr_scale = env_float("HONE_LSQ_SCALE_LR", 1.0f);
            hone::trainer t(hone::trainable_graph(m), cfg);
            t.set_teacher(base);
            for (const auto& w : layer_weights(m))
                t.set_fake_quant(w, spec);
            t.fit(train());
            acc[lsq] = t.evaluate(test());
            t.write_back(m);
            for (const auto& w : layer_weights(m)) {
                const hone::tensor d = t.quantized(w).dequantize();
                if (std::memcmp(d.data(), m.weight(w).data(), d.nbytes()) != 0)
                    state.SkipWithError("the quantized export differs from the trained forward");
            }
            if (std::abs(hone::evaluate_accuracy(m, test()) - acc[lsq]) > 1e-12)
                state.SkipWithError("the written model does not reproduce the accuracy");
        }
        state.counters["acc_base"] = a_base;
        state.counters["acc_rtn_int4"] = a_rtn;
        state.counters["acc_qat_int4"] = acc[0];
        state.counters["acc_lsq_qat_int4"] = acc[1];
    }
}

/// The fixture's MLP shape trained from scratch by hone (AdamW, cosine), test accuracy.
void BM_mlp_from_scratch(benchmark::State& state) {
    for (auto _ : state) {
        hone::model m = hone::make_mlp({784, 256, 128, 10}, 7);
        hone::trainer_config cfg;
        cfg.epochs = env_int("HONE_SCRATCH_EPOCHS", 10);
        cfg.optimizer = hone::optimizer_kind::adamw;
        cfg.learning_rate = 1e-3f;
        cfg.weight_decay = 1e-4f;
        cfg.schedule = hone::lr_schedule::cosine;
        cfg.batch_size = 128;
        cfg.seed = 7;
        hone::trainer t(hone::trainable_graph(m), cfg);
        t.fit(train());
        const double acc = t.evaluate(test());
        state.counters["acc_test"] = acc;
        state.counters["epochs"] = cfg.epochs;
        t.write_back(m);
        const fs::path out = fs::temp_directory_path() / "hone_bench_mlp_scratch.onnx";
        hone::save_onnx(m, out);
        if (std::abs(hone::evaluate_accuracy(hone::load_onnx(out), test()) - acc) > 1e-9)
            state.SkipWithError("the saved model does not reproduce the accuracy");
        fs::remove(out);
    }
}

} // namespace

/// One training step of the MobileNet-style fixture (the executor's plan forward with every value
/// recorded, then backward through the operator library: depthwise and 1×1 Conv, BN, HardSwish,
/// squeeze-excite) on a batch of 128, against one forward of the plan as deployed (BN folded,
/// activations fused, NHWC chains) on the same batch. Checks first that both forwards agree.
void BM_mobilenet_step_vs_forward(benchmark::State& state) {
    const hone::model m = hone::load_onnx(fixture("mobilenet.onnx"));
    const hone::dataset& d = train();
    hone::tensor x(hone::dtype::f32, hone::shape{128, 1, 28, 28});
    std::memcpy(x.data(), d.inputs().data(), x.nbytes());
    hone::trainable_graph g(m);
    const hone::executor deployed(m);
    {
        const hone::tensor a = g.forward(x.view(), false);
        const hone::tensor b = std::move(deployed.run(x.view()).at(0));
        double worst = 0, scale = 0;
        for (std::size_t i = 0; i < a.span<float>().size(); ++i) {
            worst = std::max(worst, double(std::abs(a.span<float>()[i] - b.span<float>()[i])));
            scale = std::max(scale, double(std::abs(b.span<float>()[i])));
        }
        if (!(worst <= 1e-5 * scale)) state.SkipWithError("training forward ≠ deployed forward");
    }
    const int reps = 10;
    double step_t = 0, fwd_t = 0;
    for (auto _ : state) {
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i) {
            const hone::tensor y = g.forward(x.view(), true);
            g.backward(y.view()); // any dL/dy of the output's shape
        }
        step_t += seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i)
            benchmark::DoNotOptimize(deployed.run(x.view()));
        fwd_t += seconds_since(t0);
    }
    state.counters["step_ms"] = 1e3 * step_t / reps;
    state.counters["x_deployed_forward"] = step_t / fwd_t;
    state.counters["threads"] = hone::num_threads();
}

BENCHMARK(BM_train_epoch_vs_forward)->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK(BM_mobilenet_step_vs_forward)->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK(BM_prune90_finetune)->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK(BM_cluster_finetune)->Arg(16)->Arg(8)->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK(BM_int4_qat)->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK(BM_mlp_from_scratch)->Iterations(1)->Unit(benchmark::kSecond);
