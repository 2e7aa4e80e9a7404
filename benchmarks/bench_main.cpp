// main() of the kernel benchmark suite: prints the SIMD tier and CPU facts first, so every
// figure is read against the hardware it ran on. HONE_MAX_ISA=avx2|scalar caps the tier.
#include <hone/kernels/isa.hpp>

#include <benchmark/benchmark.h>
#include <cstdio>

int main(int argc, char** argv) {
    const auto& cpu = hone::detected_cpu();
    std::printf(
        "hone kernels: active tier %s (best %s); avx512_vnni=%d avx_vnni=%d avx512_bf16=%d\n",
        hone::name_of(hone::active_isa()).data(), hone::name_of(cpu.best).data(), cpu.avx512_vnni,
        cpu.avx_vnni, cpu.avx512_bf16);
    benchmark::AddCustomContext("hone_isa", std::string(hone::name_of(hone::active_isa())));
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
