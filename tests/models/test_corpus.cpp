// The real-world model corpus (tests/fixtures/corpus: torchvision architectures and torch.nn
// LSTM/GRU nets exported by torch.onnx, random seeded weights; scripts/make_corpus.py) loaded
// by hone::load_onnx and run by hone's executor: each model's output for its committed input
// batch must match PyTorch's (computed in float64) within 1e-4 of the output's scale, i.e.
// max |hone − PyTorch| ≤ 1e-4 × max |PyTorch|. One SUBCASE per model, named after it.
#include "../status_of.hpp"
#include "corpus.hpp"

#include <hone/graph/executor.hpp>
#include <hone/io/digest.hpp>
#include <hone/io/onnx.hpp>

#include <doctest/doctest.h>

#include <set>

using namespace hone;
namespace corpus = hone::test::corpus;

TEST_CASE("corpus: every file the manifest lists is there, with its bytes and SHA-256") {
    const auto names = corpus::models();
    // The architectures issue 17 asks for (scripts/make_corpus.py makes them all).
    for (const char* want :
         {"resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "squeezenet1_1",
          "shufflenet_v2_x1_0", "regnet_y_400mf", "densenet121", "convnext_tiny", "vit",
          "lraspp_mobilenet_v3_large", "lstm", "gru", "text_detector"}) {
        CAPTURE(want);
        CHECK(std::count(names.begin(), names.end(), want) == 1);
    }
    std::uint64_t onnx_bytes = 0;
    for (const auto& name : names) {
        CAPTURE(name);
        const auto& e = corpus::entry(name);
        const auto model = hash_file(corpus::file(e.at("file").get<std::string>()));
        CHECK(model.sha256 == e.at("sha256").get<std::string>());
        CHECK(model.bytes == e.at("bytes").get<std::uint64_t>());
        CHECK(model.bytes <= 3'200'000); // each model stays small (issue 17: ≤ ~3 MB)
        onnx_bytes += model.bytes;
        for (const char* kind : {"test_input", "test_output", "calib", "eval"}) {
            CAPTURE(kind);
            const auto f = hash_file(corpus::file(corpus::data_file(name, kind)));
            CHECK(f.sha256 == e.at(kind).at("sha256").get<std::string>());
        }
    }
    CHECK(onnx_bytes <= 30'000'000);
}

TEST_CASE("corpus: hone runs every model and matches PyTorch within 1e-4 of the output scale") {
    for (const auto& name : corpus::models()) {
        SUBCASE(name.c_str()) {
            const auto& e = corpus::entry(name);
            const auto input = corpus::read_npy(corpus::data_file(name, "test_input"));
            const auto ref = corpus::read_npy(corpus::data_file(name, "test_output"));
            try {
                const auto m = load_onnx(corpus::file(e.at("file").get<std::string>()));
                const executor ex(m);
                const auto out = ex.run(input.view());
                CHECK(out.size() == 1);
                if (out.size() != 1) return;
                const double rel = corpus::relative_max_error(out[0].view(), ref.view());
                MESSAGE(name << ": max |hone − PyTorch| = " << rel << " × max |PyTorch|");
                CHECK(rel <= 1e-4);
            } catch (const hone::error& err) {
                FAIL_CHECK(name << ": " << std::string(err.what()));
            }
        }
    }
}

TEST_CASE("corpus: an input of another size is refused, naming the input") {
    // resnet18's input is [N,3,64,64]; ViT's test batch is [3,3,32,32].
    const auto m = load_onnx(corpus::file("resnet18.onnx"));
    const executor ex(m);
    const auto small = corpus::read_npy(corpus::data_file("vit", "test_input"));
    std::string message;
    CHECK(status_of([&] { (void)ex.run(small.view()); }, &message) == status::shape_mismatch);
    CHECK(message.find("input") != std::string::npos);
    // A sequence batch [3,28,28] has the wrong rank.
    const auto rows = corpus::read_npy(corpus::data_file("gru", "test_input"));
    CHECK(status_of([&] { (void)ex.run(rows.view()); }, &message) != status::ok);
    CHECK(message.find("input") != std::string::npos);
}
