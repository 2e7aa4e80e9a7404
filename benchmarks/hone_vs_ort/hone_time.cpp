// Times hone's graph executor on one model, for benchmarks/hone_vs_ort/hone_vs_ort.sh (a
// benchmark, not a test): prints the wall time of each run() call in ms, one per line, after
// three warm-up calls.
//
//   hone_time MODEL.onnx --sample 3x64x64 [--batch 64] [--iters 20] [--threads 2]
//             [--precision f32|int8]
// int8 = exec_precision::int8_static: a QDQ file's QuantizeLinear → DequantizeLinear pairs run
// as int8 layers on the model's own grids. Inputs: pseudo-random values as ort_time.js makes
// them (a sum of three uniforms from one LCG; JavaScript's doubles round its products, so the
// values differ slightly, which does not matter for timing).
#include <hone/core/threads.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::string model_path, precision = "f32";
    std::vector<std::int64_t> sample;
    std::int64_t batch = 1;
    int iters = 20, threads = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
        if (a == "--sample") {
            const auto s = next();
            for (std::size_t p = 0; p < s.size();) {
                const auto x = s.find('x', p);
                sample.push_back(std::stoll(s.substr(p, x - p)));
                p = x == std::string::npos ? s.size() : x + 1;
            }
        } else if (a == "--batch") {
            batch = std::stoll(next());
        } else if (a == "--iters") {
            iters = std::stoi(next());
        } else if (a == "--threads") {
            threads = std::stoi(next());
        } else if (a == "--precision") {
            precision = next();
        } else {
            model_path = a;
        }
    }
    if (model_path.empty() || sample.empty() || (precision != "f32" && precision != "int8")) {
        std::fprintf(stderr, "usage: hone_time MODEL.onnx --sample CxHxW [--batch B] [--iters N] "
                             "[--threads T] [--precision f32|int8]\n");
        return 2;
    }
    try {
        hone::set_num_threads(threads);
        const auto m = hone::load_onnx(model_path);
        hone::executor_options o;
        if (precision == "int8") o.precision = hone::exec_precision::int8_static;
        const hone::executor exec(m, o);
        std::vector<std::int64_t> dims{batch};
        dims.insert(dims.end(), sample.begin(), sample.end());
        hone::tensor x(hone::dtype::f32, hone::shape(std::span<const std::int64_t>(dims)));
        std::uint64_t state = 2026;
        auto uniform = [&] {
            state = (state * 1103515245 + 12345) % 2147483648;
            return static_cast<double>(state) / 2147483648.0;
        };
        for (auto& v : x.span<float>())
            v = static_cast<float>(uniform() + uniform() + uniform() - 1.5);
        for (int w = 0; w < 3; ++w)
            exec.run(x.view());
        for (int it = 0; it < iters; ++it) {
            const auto t0 = std::chrono::steady_clock::now();
            const auto y = exec.run(x.view());
            const auto t1 = std::chrono::steady_clock::now();
            std::printf("%.6f\n", std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hone_time: %s\n", e.what());
        return 1;
    }
    return 0;
}
