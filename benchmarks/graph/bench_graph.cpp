// The graph executor on the Fashion-MNIST fixtures: fp32 vs int8, batch 1 and 64.
//
// One benchmark per (model, batch, threads) runs the fp32 plan and the int8 plan alternately on the
// same batch and reports both mean latencies and their ratio (counter "int8_speedup" =
// fp32 time / int8 time; > 1 means int8 is faster), and the same ratio of process CPU time
// ("int8_speedup_cpu", the figure to read on a loaded machine, with OMP_NUM_THREADS=1). int8: the
// CNN in static W8A8 (activation ranges calibrated on 500 training images; convs through oneDNN
// int8 conv, Gemms through hone::kernels::linear with 7-bit activations), the MLP in dynamic int8.
// Correctness first: the fp32 plan must match the fixture's reference logits (max error ≤ 1e-4 of
// their scale) and the int8 plan must agree with fp32 on the top-1 class of ≥ 95% of 256 test
// images. The machine may be shared: read ratios, not absolute times.
#include "../../tests/model/fixture_path.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/threads.hpp>
#include <hone/data/arrays.hpp>
#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/kernels/gemm.hpp>

#include <algorithm>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

using namespace hone;

struct plans {
    std::unique_ptr<executor> f32, int8;
    tensor images; // 256 test images, f32 [256, 784]
    shape sample;
};

tensor npy(const char* name) {
    const auto p = test::fashion_fixture(name);
    return parse_npy(read_file(p), p.string());
}

const_tensor_view batch_view(const tensor& images, const shape& sample, std::int64_t n) {
    std::vector<std::int64_t> dims{n};
    dims.insert(dims.end(), sample.dims().begin(), sample.dims().end());
    return make_view(images.data(), storage_bytes(dtype::f32, n * 784), dtype::f32,
                     shape(std::span<const std::int64_t>(dims)));
}

std::int64_t argmax_row(const tensor& y, std::int64_t i) {
    const auto c = y.dims()[1];
    const auto* p = y.span<float>().data() + i * c;
    return std::max_element(p, p + c) - p;
}

void check(const plans& p, const char* ref_file) {
    const auto ref = npy(ref_file);
    const auto n = ref.dims()[0];
    const auto x = batch_view(p.images, p.sample, n);
    const auto y = std::move(p.f32->run(x).at(0));
    double scale = 0, err = 0;
    for (std::size_t i = 0; i < ref.span<float>().size(); ++i) {
        scale = std::max(scale, std::fabs(double(ref.span<float>()[i])));
        err = std::max(err, std::fabs(double(y.span<float>()[i]) - ref.span<float>()[i]));
    }
    if (err > 1e-4 * scale)
        throw std::runtime_error(std::string(ref_file) + ": fp32 plan disagrees");
    const auto q = std::move(p.int8->run(x).at(0));
    std::int64_t same = 0;
    for (std::int64_t i = 0; i < n; ++i)
        same += argmax_row(y, i) == argmax_row(q, i);
    if (same < n * 95 / 100)
        throw std::runtime_error(std::string(ref_file) + ": int8 top-1 agreement too low");
}

const plans& cnn() {
    static const plans p = [] {
        plans r;
        const auto m = load_onnx(test::fashion_fixture("cnn.onnx"));
        r.sample = shape{1, 28, 28};
        r.images = tensor::copy_of(dataset::fashion_mnist("test").inputs().view().slice(0, 0, 256));
        r.f32 = std::make_unique<executor>(m);
        // Calibration: min/max of every value over 500 training images.
        executor_options o;
        o.precision = exec_precision::int8_static;
        auto train =
            tensor::copy_of(dataset::fashion_mnist("train").subset(500, 3).inputs().view());
        auto note = [&](const std::string& name, const_tensor_view v) {
            const auto t = tensor::copy_of(v);
            const auto [lo, hi] =
                std::minmax_element(t.span<float>().begin(), t.span<float>().end());
            auto& e = o.activation_ranges[name];
            e.lo = std::min(e.lo, *lo);
            e.hi = std::max(e.hi, *hi);
        };
        const auto tv = batch_view(train, r.sample, 500);
        note(m.inputs[0].name, tv);
        (void)r.f32->run(tv, note);
        r.int8 = std::make_unique<executor>(m, o);
        check(r, "cnn_ref_logits.npy");
        return r;
    }();
    return p;
}

const plans& mlp() {
    static const plans p = [] {
        plans r;
        const auto m = load_onnx(test::fashion_fixture("mlp.onnx"));
        r.sample = shape{784};
        r.images = tensor::copy_of(dataset::fashion_mnist("test").inputs().view().slice(0, 0, 256));
        r.f32 = std::make_unique<executor>(m);
        executor_options o;
        o.precision = exec_precision::int8_dynamic;
        r.int8 = std::make_unique<executor>(m, o);
        check(r, "mlp_ref_logits.npy");
        return r;
    }();
    return p;
}

double cpu_us() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Arguments: batch, threads (hone::set_num_threads, i.e. HONE_NUM_THREADS, for hone's loops
// and oneDNN alike; restored to the default afterwards).
void run_pair(benchmark::State& state, const plans& p) {
    const auto n = state.range(0);
    const int threads = hone::set_num_threads(static_cast<int>(state.range(1)));
    const auto x = batch_view(p.images, p.sample, n);
    using clock = std::chrono::steady_clock;
    double t32 = 0, t8 = 0, c32 = 0, c8 = 0;
    for (auto _ : state) {
        const double ca = cpu_us();
        auto a = clock::now();
        benchmark::DoNotOptimize(p.f32->run(x));
        auto b = clock::now();
        const double cb = cpu_us();
        benchmark::DoNotOptimize(p.int8->run(x));
        auto c = clock::now();
        const double cc = cpu_us();
        t32 += std::chrono::duration<double, std::micro>(b - a).count();
        t8 += std::chrono::duration<double, std::micro>(c - b).count();
        c32 += cb - ca;
        c8 += cc - cb;
    }
    const double it = static_cast<double>(state.iterations());
    state.counters["f32_us"] = t32 / it;
    state.counters["int8_us"] = t8 / it;
    state.counters["int8_speedup"] = t32 / t8;
    // Process CPU time: robust to preemption on a shared machine (run with OMP_NUM_THREADS=1,
    // or spinning worker threads count too).
    state.counters["int8_speedup_cpu"] = c32 / c8;
    state.counters["threads"] = threads;
    hone::set_num_threads(0);
    state.SetLabel("oneDNN " + kernels::onednn_isa() +
                   (kernels::int8_pairs_saturate() ? ", no VNNI" : ""));
}

void BM_graph_cnn(benchmark::State& state) { run_pair(state, cnn()); }
void BM_graph_mlp(benchmark::State& state) { run_pair(state, mlp()); }

} // namespace

// {batch, threads}: the fp32/int8 ratio at 1 and at 2 threads.
BENCHMARK(BM_graph_cnn)
    ->ArgsProduct({{1, 64}, {1, 2}})
    ->ArgNames({"batch", "threads"})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.5);
BENCHMARK(BM_graph_mlp)
    ->ArgsProduct({{1, 64}, {1, 2}})
    ->ArgNames({"batch", "threads"})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.5);
