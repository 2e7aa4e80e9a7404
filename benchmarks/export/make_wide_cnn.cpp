// make_wide_cnn OUT_DIR — writes the CNN benchmarks/ort_exports.sh times besides the fixtures:
// wide_cnn.onnx (f32: Conv 3→64, Conv 64→64, MaxPool, Conv 64→128, Conv 128→128 (3×3, ReLU),
// GlobalAveragePool, Gemm 128→10 on 3×32×32 inputs, He-initialised from a fixed seed) and
// wide_cnn-int8.onnx, its static int8 QDQ export through hone's library path: the tensors of
// qdq_activation_tensors() calibrated (min/max) on 64 N(0,1) inputs, to_qdq. The committed
// Fashion-MNIST CNN has 8 and 16 channels, too narrow for int8 kernels to pay off; this one
// has the widths deployed CNNs have. A benchmark input, not a test.
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/io/qdq.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

using namespace hone;

namespace {

tensor normal(const shape& s, float sd, std::mt19937& g) {
    tensor t(dtype::f32, s);
    std::normal_distribution<float> d(0.0f, sd);
    for (auto& v : t.span<float>())
        v = d(g);
    return t;
}

node make(std::string name, std::string op, std::vector<std::string> in, std::string out) {
    node n;
    n.name = std::move(name);
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = {std::move(out)};
    return n;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_wide_cnn OUT_DIR\n");
        return 1;
    }
    const std::filesystem::path dir = argv[1];
    std::mt19937 g(2026);
    model m;
    m.source = "wide_cnn";
    m.producer_name = "hone make_wide_cnn";
    m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {3, ""}, {32, ""}, {32, ""}}});
    m.outputs.push_back({"logits", dtype::f32, {{-1, "N"}, {10, ""}}});
    auto conv = [&](const std::string& name, const std::string& in, std::int64_t cin,
                    std::int64_t cout, const std::string& out) {
        auto c = make(name, "Conv", {in, name + ".weight", name + ".bias"}, name + "_out");
        c.attributes["kernel_shape"] = attribute::of_ints({3, 3});
        c.attributes["pads"] = attribute::of_ints({1, 1, 1, 1});
        m.set_weight(name + ".weight",
                     normal(shape{cout, cin, 3, 3}, std::sqrt(2.0f / float(cin * 9)), g));
        m.set_weight(name + ".bias", normal(shape{cout}, 0.05f, g));
        m.nodes.push_back(std::move(c));
        m.nodes.push_back(make(name + "_relu", "Relu", {name + "_out"}, out));
    };
    conv("conv1", "x", 3, 64, "a1");
    conv("conv2", "a1", 64, 64, "a2");
    auto pool = make("pool", "MaxPool", {"a2"}, "p2");
    pool.attributes["kernel_shape"] = attribute::of_ints({2, 2});
    pool.attributes["strides"] = attribute::of_ints({2, 2});
    m.nodes.push_back(std::move(pool));
    conv("conv3", "p2", 64, 128, "a3");
    conv("conv4", "a3", 128, 128, "a4");
    m.nodes.push_back(make("gap", "GlobalAveragePool", {"a4"}, "g"));
    m.nodes.push_back(make("flatten", "Flatten", {"g"}, "f"));
    auto fc = make("fc", "Gemm", {"f", "fc.weight", "fc.bias"}, "logits");
    fc.attributes["transB"] = attribute::of_int(1);
    m.set_weight("fc.weight", normal(shape{10, 128}, 0.1f, g));
    m.set_weight("fc.bias", normal(shape{10}, 0.05f, g));
    m.nodes.push_back(std::move(fc));
    (void)validate(m);
    save_onnx(m, dir / "wide_cnn.onnx");

    const auto names = qdq_activation_tensors(m);
    executor_options keep;
    keep.keep = names;
    executor ex(m, keep);
    const auto x = normal(shape{64, 3, 32, 32}, 1.0f, g);
    std::map<std::string, tensor_range, std::less<>> ranges;
    const auto note = [&](const std::string& name, const_tensor_view v) {
        const auto t = tensor::copy_of(v);
        const auto s = t.span<float>();
        const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
        ranges[name] = {*lo, *hi};
    };
    note("x", x.view());
    (void)ex.run(x.view(), note);
    qdq_options o;
    for (const auto& n : names)
        o.activations[n] = qdq_activation_from_range(ranges.at(n));
    save_onnx(to_qdq(m, o), dir / "wide_cnn-int8.onnx");
    std::printf("%s\n%s\n", (dir / "wide_cnn.onnx").c_str(), (dir / "wide_cnn-int8.onnx").c_str());
    return 0;
}
