// Data specs (hone/data/data_spec.hpp): parsing, loading, subsets, shapes, normalization, slices.
#include "hone/data/data_spec.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/data/arrays.hpp>
#include <hone/validate/validator.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;
using hone::data_source;
using hone::load_data;
using hone::parse_data_spec;

namespace {

// The message of the hone::error that `f` throws, checking its status.
template <class F> std::string error_of(F&& f, hone::status expected) {
    try {
        f();
    } catch (const hone::error& e) {
        CHECK(e.code() == expected);
        return e.what();
    }
    FAIL("no error thrown");
    return {};
}

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("hone_cli_data_" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

// 10 samples of 2×3 f32 values: sample i holds i*10 + k; labels i % 3.
void write_npy_pair(const fs::path& dir) {
    hone::tensor x(hone::dtype::f32, {10, 2, 3});
    auto v = x.span<float>();
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = static_cast<float>((i / 6) * 10 + i % 6);
    hone::save_npy(dir / "x.npy", x);
    hone::tensor y(hone::dtype::i64, {10});
    for (std::int64_t i = 0; i < 10; ++i)
        y.span<std::int64_t>()[static_cast<std::size_t>(i)] = i % 3;
    hone::save_npy(dir / "y.npy", y);
}

// IDX: 4 images of 2×2 u8 and 4 labels.
void write_idx_pair(const fs::path& dir) {
    std::string images = {0, 0, 0x08, 3, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 2};
    for (int i = 0; i < 16; ++i)
        images += static_cast<char>(i * 17); // 0 … 255
    hone::write_file_atomic(dir / "images.idx", images);
    std::string labels = {0, 0, 0x08, 1, 0, 0, 0, 4, 1, 0, 1, 2};
    hone::write_file_atomic(dir / "labels.idx", labels);
}

// An NPY file of booleans ('|b1'), as NumPy writes it (save_npy has no bool).
void write_bool_npy(const fs::path& file, const std::vector<std::uint8_t>& values) {
    std::string header = "{'descr': '|b1', 'fortran_order': False, 'shape': (" +
                         std::to_string(values.size()) + ",), }";
    while ((10 + header.size() + 1) % 64 != 0)
        header += ' ';
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += '\x01';
    bytes += '\x00';
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    bytes += header;
    bytes.append(values.begin(), values.end());
    hone::write_file_atomic(file, bytes);
}

} // namespace

TEST_CASE("specs parse into their parts") {
    auto s = parse_data_spec("fashion-mnist:train");
    CHECK(s.format == data_source::kind::fashion_mnist);
    CHECK(s.split == "train");
    CHECK_FALSE(s.subset);
    s = parse_data_spec("fashion-mnist:test:500");
    CHECK(s.split == "test");
    REQUIRE(s.subset);
    CHECK(*s.subset == 500);
    s = parse_data_spec("data/in.npy,data/labels.npy:64");
    CHECK(s.format == data_source::kind::npy);
    CHECK(s.inputs == "data/in.npy");
    CHECK(s.labels == "data/labels.npy");
    CHECK(*s.subset == 64);
    s = parse_data_spec("in.npy");
    CHECK(s.labels.empty());
    s = parse_data_spec("t10k-images-idx3-ubyte.gz,t10k-labels-idx1-ubyte.gz");
    CHECK(s.format == data_source::kind::idx);
    s = parse_data_spec("a.idx.gz,b.idx");
    CHECK(s.format == data_source::kind::idx);
    CHECK(s.labels == "b.idx");
}

TEST_CASE("bad specs name the spec and what is wrong") {
    const auto bad = [](const char* spec) {
        return error_of([&] { parse_data_spec(spec); }, hone::status::invalid_argument);
    };
    CHECK(bad("").find("empty") != std::string::npos);
    CHECK(bad("fashion-mnist:valid") ==
          "data spec 'fashion-mnist:valid': unknown Fashion-MNIST split 'valid' (expected "
          "fashion-mnist:train or fashion-mnist:test, optionally :N)");
    CHECK(bad("fashion-mnist").find("split ''") != std::string::npos);
    CHECK(bad("fashion-mnist:train:0").find("at least 1 sample") != std::string::npos);
    CHECK(bad("fashion-mnist:train:99999999999999999999").find("too large") != std::string::npos);
    CHECK(bad("images.png").find("cannot tell the format of 'images.png'") != std::string::npos);
    CHECK(bad("a.npy,b.idx").find("labels 'b.idx' must be an NPY file") != std::string::npos);
    CHECK(bad("a.idx,b.npy").find("must be an IDX file") != std::string::npos);
    CHECK(bad("a.npy,b.npy,c.npy").find("got 3 comma-separated files") != std::string::npos);
    CHECK(bad("a.npy,").find("empty file name") != std::string::npos);
    CHECK(bad("fashion-mnist:train:x").find("'train:x'") != std::string::npos);
}

TEST_CASE("sample shapes parse") {
    CHECK(hone::parse_sample_shape("784") == std::vector<std::int64_t>{784});
    CHECK(hone::parse_sample_shape("1x28x28") == std::vector<std::int64_t>{1, 28, 28});
    CHECK(hone::parse_sample_shape("1,28,28") == std::vector<std::int64_t>{1, 28, 28});
    for (const char* bad : {"", "0", "28x", "x28", "-1", "2xa"})
        CHECK(error_of([&] { hone::parse_sample_shape(bad); }, hone::status::invalid_argument)
                  .find("input shape") != std::string::npos);
}

TEST_CASE("NPY pairs load, reshape, normalize and subset") {
    temp_dir t;
    write_npy_pair(t.path);
    const std::string spec = (t.path / "x.npy").string() + "," + (t.path / "y.npy").string();
    auto d = load_data(spec);
    CHECK(d.data.size() == 10);
    CHECK(d.data.inputs().dims() == hone::shape{10, 2, 3});
    CHECK(d.data.labels()[4] == 1);
    CHECK(d.files.size() == 2);
    CHECK(d.class_names.empty());

    hone::data_options o;
    o.sample_shape = {6};
    o.mean = 1.0f;
    o.std = 2.0f;
    d = load_data(spec, o);
    CHECK(d.data.inputs().dims() == hone::shape{10, 6});
    CHECK(d.data.inputs().span<float>()[7] == doctest::Approx((11.0 - 1.0) / 2.0));

    // A model input with dynamic dims ([2, ?] per sample): the NPY's own shape resolves them
    // when it fits; otherwise the error asks for --input-shape.
    o = {};
    o.sample_shape = {2, -1};
    CHECK(load_data(spec, o).data.inputs().dims() == hone::shape{10, 2, 3});
    o.sample_shape = {-1, 2};
    CHECK_THROWS_WITH_AS(load_data(spec, o),
                         doctest::Contains("a sample is [2, 3], and the model input [?, 2] has "
                                           "dynamic dimensions ('?') the data cannot resolve: "
                                           "give --input-shape"),
                         hone::error);
    o.sample_shape = {-1};
    CHECK_THROWS_WITH_AS(load_data(spec, o), doctest::Contains("give --input-shape"), hone::error);

    // A subset: the same samples as dataset::subset with the seed, slices renumbered.
    const auto full = load_data(spec);
    const auto expected = full.data.subset(4, o.seed);
    d = load_data(spec + ":4");
    REQUIRE(d.data.size() == 4);
    for (std::int64_t i = 0; i < 4 * 6; ++i)
        CHECK(d.data.inputs().span<float>()[static_cast<std::size_t>(i)] ==
              expected.inputs().span<float>()[static_cast<std::size_t>(i)]);
}

TEST_CASE("IDX pairs: bytes become [0, 1]") {
    temp_dir t;
    write_idx_pair(t.path);
    hone::data_options o;
    o.sample_shape = {1, 2, 2};
    const auto d =
        load_data((t.path / "images.idx").string() + "," + (t.path / "labels.idx").string(), o);
    CHECK(d.data.inputs().dims() == hone::shape{4, 1, 2, 2});
    CHECK(d.data.inputs().span<float>()[15] == 1.0f);
    CHECK(d.data.inputs().span<float>()[1] == doctest::Approx(17.0 / 255));
    CHECK(d.data.labels()[3] == 2);
}

TEST_CASE("loading errors name the spec and the problem") {
    temp_dir t;
    write_npy_pair(t.path);
    const std::string x = (t.path / "x.npy").string(), y = (t.path / "y.npy").string();
    auto msg = error_of([&] { load_data(x + "," + (t.path / "nope.npy").string()); },
                        hone::status::io_error);
    CHECK(msg.find("data spec '") == 0);
    CHECK(msg.find("nope.npy' does not exist") != std::string::npos);

    hone::data_options o;
    o.sample_shape = {784};
    msg = error_of([&] { load_data(x + "," + y, o); }, hone::status::shape_mismatch);
    CHECK(msg.find("a sample has 6 values ([2, 3]), but the model input [784] needs 784") !=
          std::string::npos);

    msg = error_of([&] { load_data(x + "," + y + ":11"); }, hone::status::invalid_argument);
    CHECK(msg.find("asks for 11 samples, but the data has only 10") != std::string::npos);

    o = {};
    o.mean = 0.5f;
    msg = error_of([&] { load_data(x, o); }, hone::status::invalid_argument);
    CHECK(msg.find("both --mean and --std") != std::string::npos);
    o.std = 0.0f;
    msg = error_of([&] { load_data(x, o); }, hone::status::invalid_argument);
    CHECK(msg.find("--std must be positive") != std::string::npos);

    // A malformed NPY: the reader's message, prefixed with the spec.
    hone::write_file_atomic(t.path / "broken.npy", "\x93NUMPY garbage");
    msg =
        error_of([&] { load_data((t.path / "broken.npy").string()); }, hone::status::format_error);
    CHECK(msg.find("data spec '") == 0);
    CHECK(msg.find("broken.npy") != std::string::npos);
    // Labels that do not match the inputs.
    hone::tensor y3(hone::dtype::i64, {3});
    hone::save_npy(t.path / "y3.npy", y3);
    msg = error_of([&] { load_data(x + "," + (t.path / "y3.npy").string()); },
                   hone::status::shape_mismatch);
    CHECK(msg.find("data spec '") == 0);
}

TEST_CASE("slice files: index lists and NPY masks, renumbered through a subset") {
    temp_dir t;
    write_npy_pair(t.path);
    const std::string spec = (t.path / "x.npy").string() + "," + (t.path / "y.npy").string();
    write_bool_npy(t.path / "even.npy", {1, 0, 1, 0, 1, 0, 1, 0, 1, 0});
    hone::write_file_atomic(t.path / "slices.json",
                            R"({"tail": [9, 8, 8, 7], "even": "even.npy"})");
    hone::data_options o;
    o.slices_file = t.path / "slices.json";
    auto d = load_data(spec, o);
    REQUIRE(d.slices.size() == 2);
    const auto& even = d.slices[0].name == "even" ? d.slices[0] : d.slices[1];
    const auto& tail = d.slices[0].name == "tail" ? d.slices[0] : d.slices[1];
    CHECK(even.samples == std::vector<std::uint32_t>{0, 2, 4, 6, 8});
    CHECK(tail.samples == std::vector<std::uint32_t>{7, 8, 9}); // sorted, duplicates merged
    CHECK(d.files.size() == 4);                                 // inputs, labels, json, mask
    const auto eval = hone::evaluation_of(d);                   // the validator's view of it
    CHECK(eval.slices.size() == 2);
    CHECK(eval.inputs.dims()[0] == 10);

    // Through a subset: members keep their identity (the first value of stored sample i is 10i).
    d = load_data(spec + ":6", o);
    REQUIRE(d.data.size() == 6);
    const auto x = d.data.inputs().span<float>();
    for (const auto& s : d.slices)
        for (const auto k : s.samples) {
            const auto stored = static_cast<int>(x[k * 6] / 10);
            if (s.name == "even")
                CHECK(stored % 2 == 0);
            else
                CHECK(stored >= 7);
        }

    const auto slice_error = [&](const std::string& text, hone::status code) {
        hone::write_file_atomic(t.path / "bad.json", text);
        hone::data_options b;
        b.slices_file = t.path / "bad.json";
        return error_of([&] { load_data(spec, b); }, code);
    };
    CHECK(slice_error("[1,2]", hone::status::format_error)
              .find("2 labels for the data's 10 samples") != std::string::npos);
    CHECK(slice_error("[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",3]",
                      hone::status::format_error)
              .find("label 3 of sample 9 is not a non-empty string") != std::string::npos);
    CHECK(slice_error("7", hone::status::format_error).find("expected an object") !=
          std::string::npos);
    // A label array: a slice per label in order of first appearance, renumbered by a subset.
    hone::write_file_atomic(
        t.path / "labels.json",
        R"(["Ruth", "Jonah", "Ruth", "Jonah", "Ruth", "James", "Ruth", "Jonah", "Ruth", "Ruth"])");
    hone::data_options lo;
    lo.slices_file = t.path / "labels.json";
    const auto books = load_data(spec, lo).slices;
    REQUIRE(books.size() == 3);
    CHECK(books[0].name == "Ruth");
    CHECK(books[0].samples == std::vector<std::uint32_t>{0, 2, 4, 6, 8, 9});
    CHECK(books[1].name == "Jonah");
    CHECK(books[1].samples == std::vector<std::uint32_t>{1, 3, 7});
    CHECK(books[2].name == "James");
    CHECK(books[2].samples == std::vector<std::uint32_t>{5});
    CHECK(slice_error("{\"a\": [10]}", hone::status::format_error)
              .find("slice 'a': index 10 is outside the data's 10 samples") != std::string::npos);
    CHECK(slice_error("{\"a\": [1.5]}", hone::status::format_error)
              .find("1.5 is not a sample index") != std::string::npos);
    CHECK(slice_error("{\"a\": []}", hone::status::format_error).find("has no samples") !=
          std::string::npos);
    CHECK(slice_error("{\"a\": 3}", hone::status::format_error)
              .find("expected an array of sample indices or an NPY mask path") !=
          std::string::npos);
    CHECK(slice_error("{oops", hone::status::format_error).find("not valid JSON") !=
          std::string::npos);
    write_bool_npy(t.path / "short.npy", {1, 1, 0, 0});
    CHECK(slice_error("{\"s\": \"short.npy\"}", hone::status::shape_mismatch)
              .find("the mask has 4 values, the data has 10 samples") != std::string::npos);
    hone::tensor u8_mask(hone::dtype::u8, {10});
    static_cast<std::uint8_t*>(u8_mask.data())[3] = 7; // nonzero = member
    hone::save_npy(t.path / "u8.npy", u8_mask);
    hone::write_file_atomic(t.path / "u8.json", R"({"third": "u8.npy"})");
    hone::data_options u;
    u.slices_file = t.path / "u8.json";
    CHECK(load_data(spec, u).slices.at(0).samples == std::vector<std::uint32_t>{3});
    hone::tensor f_mask(hone::dtype::f32, {10});
    hone::save_npy(t.path / "f.npy", f_mask);
    CHECK(slice_error("{\"s\": \"f.npy\"}", hone::status::format_error)
              .find("a mask holds booleans or integers, not f32") != std::string::npos);
    CHECK(slice_error("{\"s\": \"absent.npy\"}", hone::status::io_error).find("absent.npy") !=
          std::string::npos);
}

TEST_CASE("Fashion-MNIST specs") {
    for (const char* f : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
        const auto path = fs::path(hone::dataset::fashion_mnist_root) / f;
        REQUIRE_MESSAGE(fs::exists(path), path.string()
                                              << " missing: install the Debian package "
                                                 "dataset-fashion-mnist (scripts/setup.sh does)");
    }
    hone::data_options o;
    o.sample_shape = {1, 28, 28};
    const auto d = load_data("fashion-mnist:test:100", o);
    CHECK(d.data.size() == 100);
    CHECK(d.data.inputs().dims() == hone::shape{100, 1, 28, 28});
    CHECK(d.class_names.size() == 10);
    CHECK(d.files.size() == 2);
    const auto again = load_data("fashion-mnist:test:100", o);
    CHECK(std::equal(d.data.labels().begin(), d.data.labels().end(), again.data.labels().begin()));
    const auto json = hone::data_json(d, o);
    CHECK(json.find("\"spec\":\"fashion-mnist:test:100\"") != std::string::npos);
    CHECK(json.find(d.files[0].sha256) != std::string::npos);
    hone::data_options missing;
    missing.fashion_mnist_root = "/nonexistent/fashion";
    CHECK(error_of([&] { load_data("fashion-mnist:train", missing); }, hone::status::io_error)
              .find("install the Debian package dataset-fashion-mnist") != std::string::npos);
}

TEST_CASE("text as byte-level token ids, cut into sequences of the sample shape's length") {
    temp_dir t;
    const auto file = t.path / "psalm.txt";
    hone::write_file_atomic(file, std::string("The LORD is my shepherd\xC3\xA9", 25));
    hone::data_options o;
    o.sample_shape = {8};
    const auto d = load_data(file.string(), o);
    REQUIRE(d.data.inputs().type() == hone::dtype::i64);
    CHECK(d.data.inputs().dims() == hone::shape{3, 8}); // 25 bytes: 3 sequences, 1 byte left
    const auto ids = d.data.inputs().span<std::int64_t>();
    CHECK(ids[0] == 'T');
    CHECK(ids[8] == ' '); // "The LORD" | " is my s" | "hepherd\xC3"
    CHECK(ids[12] == 'm');
    CHECK(ids[23] == 0xC3); // bytes, not characters: ids 0…255
    CHECK_FALSE(d.data.has_labels());
    CHECK(d.files.size() == 1);
    CHECK(parse_data_spec(file.string() + ":2").format == data_source::kind::text);
    CHECK(load_data(file.string() + ":2", o).data.size() == 2);
    // The length must be known, the text long enough, and there are no labels.
    hone::data_options dynamic;
    dynamic.sample_shape = {-1};
    CHECK(error_of([&] { load_data(file.string(), dynamic); }, hone::status::invalid_argument)
              .find("give their length with --input-shape") != std::string::npos);
    hone::data_options long_seq;
    long_seq.sample_shape = {100};
    CHECK(error_of([&] { load_data(file.string(), long_seq); }, hone::status::format_error)
              .find("fewer than one sequence of 100") != std::string::npos);
    CHECK(error_of([&] { parse_data_spec("a.txt,b.txt"); }, hone::status::invalid_argument)
              .find("text has no labels") != std::string::npos);
}
