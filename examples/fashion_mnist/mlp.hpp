// A two-layer perceptron (784 → 128 → 10, ReLU) for the Fashion-MNIST demo: trained here by
// plain mini-batch SGD with momentum through hone's f32 matmul (deterministic for a seed), and
// run as an f32 baseline or an int8 candidate through hone::kernels::linear.
//
// This stands in for the ONNX models and the trainer that later issues bring; it uses only
// what the library has today.
#pragma once

#include <hone/data/dataset.hpp>
#include <hone/graph/runner.hpp>
#include <hone/kernels/gemm.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

namespace demo {

inline constexpr std::int64_t inputs = 784, hidden = 128, classes = 10;

struct mlp_weights {
    std::vector<float> w1, b1, w2, b2; // w: [out, in] row-major (nn.Linear layout)
    std::uint64_t bytes() const { return 4 * (w1.size() + b1.size() + w2.size() + b2.size()); }
};

struct training_options {
    int epochs = 10;
    std::int64_t batch = 100;
    float learning_rate = 0.02f;
    float momentum = 0.9f;
    std::uint64_t seed = 2026;
};

mlp_weights train(const hone::dataset& data, const training_options& options);

/// The int8 form: per-output-channel symmetric s8 weights with f32 scales, f32 bias.
struct int8_weights {
    std::vector<std::int8_t> w1, w2;
    std::vector<float> s1, s2, b1, b2;
    std::uint64_t bytes() const {
        return w1.size() + w2.size() + 4 * (s1.size() + s2.size() + b1.size() + b2.size());
    }
};

int8_weights quantize_per_channel(const mlp_weights& w);
/// Writes the int8 weights as NPY files into `folder`; returns their paths.
std::vector<std::filesystem::path> save(const int8_weights& w, const std::filesystem::path& folder);

std::unique_ptr<hone::runner> f32_runner(const mlp_weights& w);
std::unique_ptr<hone::runner> int8_runner(const int8_weights& w);

} // namespace demo
