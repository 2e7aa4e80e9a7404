// hone_tour — what the library can do so far, on a synthetic weight matrix: store it in f16
// and bf16 and report what each costs in bytes and in error. The README's main command runs it
// until the `hone optimize` job exists.
#include <hone/hone.hpp>

#include <cmath>
#include <cstdio>
#include <random>

namespace {

struct error_stats {
    double max_abs = 0, rel_rms = 0;
};

error_stats compare(const hone::tensor& reference, const hone::tensor& stored) {
    hone::tensor back(hone::dtype::f32, reference.dims());
    hone::copy(stored, back);
    const auto a = reference.span<float>();
    const auto b = back.span<float>();
    double err2 = 0, ref2 = 0;
    error_stats s;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = double(a[i]) - double(b[i]);
        s.max_abs = std::max(s.max_abs, std::abs(d));
        err2 += d * d;
        ref2 += double(a[i]) * double(a[i]);
    }
    s.rel_rms = std::sqrt(err2 / ref2);
    return s;
}

} // namespace

int main() {
    std::printf("hone %s (ABI %d, packed formats v%d), %d threads\n", hone::version().text.data(),
                hone::abi_version(), hone::packed_format_version(), hone::num_threads());
    // A 512×784 layer initialised as PyTorch does (Kaiming uniform), from a fixed seed.
    hone::tensor weights(hone::dtype::f32, {512, 784});
    std::mt19937 rng(2026);
    const float bound = 1.0f / std::sqrt(784.0f);
    std::uniform_real_distribution<float> uniform(-bound, bound);
    for (float& w : weights.span<float>())
        w = uniform(rng);

    std::printf("\n%-6s %12s %8s %14s %14s\n", "dtype", "bytes", "ratio", "max |error|",
                "relative RMS");
    std::printf("%-6s %12zu %8.2f %14s %14s\n", "f32", weights.nbytes(), 1.0, "0", "0");
    for (auto type : {hone::dtype::f16, hone::dtype::bf16}) {
        hone::tensor stored(type, weights.dims());
        hone::copy(weights, stored);
        const auto e = compare(weights, stored);
        std::printf("%-6s %12zu %8.2f %14.3g %14.3g\n", hone::name_of(type).data(), stored.nbytes(),
                    double(weights.nbytes()) / double(stored.nbytes()), e.max_abs, e.rel_rms);
    }
    std::printf("\nBad input is refused with a clear error:\n");
    try {
        hone::tensor bad(hone::dtype::f32, {784, -512});
    } catch (const hone::error& e) {
        std::printf("  %s: %s\n", hone::status_name(e.code()).data(), e.what());
    }
    return 0;
}
