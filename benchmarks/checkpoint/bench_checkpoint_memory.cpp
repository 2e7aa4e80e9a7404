// Peak resident memory of quantize_checkpoint on a synthetic checkpoint of several GB, made on
// the fly (hone/pipeline/checkpoint_quantize.hpp: one weight matrix in memory at a time).
//
// Each run happens in a child process, so its peak resident set (wait4's ru_maxrss, VmHWM) is
// its own: a child writes the checkpoint (one shard per block), another quantizes it to GGUF
// with calibration. Counters: the checkpoint's bytes, its largest tensor's bytes, the
// quantizing child's peak resident bytes, peak / largest tensor, and (peak − the peak of the
// same run on a tiny checkpoint) / largest tensor — the figure the design bounds
// (docs/scale.md). Arguments: blocks, GGUF type, calibration rows of 64 tokens; two runs that
// differ only in the rows measure what the calibration activations add. The library as a
// program gets it; MALLOC_MMAP_THRESHOLD_=1048576 measures what `hone checkpoint quantize`
// gets (it fixes glibc's mmap threshold). Time is reported as measured; it is not the point.
//   build/benchmarks/bench_checkpoint --benchmark_filter=memory
#include "../../tests/pipeline/synthetic_llama.hpp"

#include <hone/io/gguf.hpp>
#include <hone/pipeline/checkpoint_quantize.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

// Runs fn in a child process; returns its peak resident bytes. Throws if it fails.
std::uint64_t in_child(const std::function<void()>& fn) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        try {
            fn();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: %s\n", e.what());
            std::_Exit(1);
        }
        std::_Exit(0);
    }
    int status = 0;
    rusage usage{};
    if (::wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("child failed");
    return std::uint64_t(usage.ru_maxrss) * 1024; // kB on Linux
}

void BM_checkpoint_memory(benchmark::State& state) {
    hone::test::synthetic_llama s;
    s.hidden = 4096;
    s.intermediate = 11008;
    s.heads = 32;
    s.kv_heads = 8;
    s.layers = state.range(0);
    s.context = 64;
    s.sharded = true;
    const fs::path dir =
        fs::temp_directory_path() / ("hone_bench_ckpt_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    const std::uint64_t writer_peak =
        in_child([&] { hone::test::write_synthetic_llama(dir / "ckpt", s); });
    std::uint64_t checkpoint_bytes = 0;
    for (const auto& e : fs::directory_iterator(dir / "ckpt"))
        checkpoint_bytes += e.file_size();
    const std::uint64_t largest = std::uint64_t(s.intermediate * s.hidden) * 4;
    // The same run on a tiny checkpoint: what the process holds whatever the model (libraries,
    // oneDNN's and OpenMP's pools).
    hone::test::synthetic_llama tiny;
    tiny.hidden = 64;
    tiny.intermediate = 128;
    tiny.heads = 4;
    tiny.kv_heads = 2;
    tiny.layers = 1;
    (void)in_child([&] { hone::test::write_synthetic_llama(dir / "tiny", tiny); });
    const std::uint64_t base = in_child([&] {
        hone::checkpoint_quantize_options o;
        o.checkpoint = dir / "tiny";
        o.out = dir / "tiny.gguf";
        o.type = hone::io::gguf_type::q8_0;
        o.calibration = hone::tensor(hone::dtype::i64, hone::shape{4, 64});
        (void)hone::quantize_checkpoint(o);
    });
    std::uint64_t peak = 0, gguf_bytes = 0;
    for (auto _ : state) {
        fs::remove(dir / "model.gguf");
        peak = in_child([&] {
            hone::checkpoint_quantize_options o;
            o.checkpoint = dir / "ckpt";
            o.out = dir / "model.gguf";
            o.type = hone::io::gguf_type(state.range(1));
            o.calibration = hone::tensor(hone::dtype::i64, hone::shape{state.range(2), 64});
            auto t = o.calibration.span<std::int64_t>();
            for (std::size_t i = 0; i < t.size(); ++i)
                t[i] = std::int64_t(i * 37 % 256);
            (void)hone::quantize_checkpoint(o);
        });
        gguf_bytes = fs::file_size(dir / "model.gguf");
    }
    state.counters["checkpoint_GB"] = double(checkpoint_bytes) / 1e9;
    state.counters["gguf_GB"] = double(gguf_bytes) / 1e9;
    state.counters["largest_tensor_MB"] = double(largest) / 1e6;
    state.counters["peak_rss_MB"] = double(peak) / 1e6;
    state.counters["peak_over_largest"] = double(peak) / double(largest);
    state.counters["base_rss_MB"] = double(base) / 1e6;
    state.counters["above_base_over_largest"] =
        double(peak - std::min(peak, base)) / double(largest);
    state.counters["writer_peak_MB"] = double(writer_peak) / 1e6;
    state.counters["calibration_tokens"] = double(state.range(2) * 64);
    state.SetLabel(std::string(hone::io::gguf_type_name(hone::io::gguf_type(state.range(1)))));
    fs::remove_all(dir);
}

} // namespace

// 4 blocks of a 7B-wide LLaMA (hidden 4096, MLP 11008, GQA 32/8): 2.7 GB of f32.
BENCHMARK(BM_checkpoint_memory)
    ->Args({4, int(hone::io::gguf_type::q8_0), 4})
    ->Args({4, int(hone::io::gguf_type::q8_0), 8})
    ->Args({4, int(hone::io::gguf_type::q4_k), 4})
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
