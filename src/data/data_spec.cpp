#include "hone/data/data_spec.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/data/arrays.hpp>
#include <hone/io/digest.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <numeric>

namespace hone {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

[[noreturn]] void bad_spec(std::string_view spec, const std::string& what) {
    fail(status::invalid_argument, fmt::format("data spec '{}': {}", spec, what));
}

bool is_npy(std::string_view file) { return ends_with(file, ".npy"); }
bool is_text(std::string_view file) { return ends_with(file, ".txt"); }

// A text file as byte-level token ids (the language-model fixture's tokenizer: id = byte),
// cut into sequences of `seq` tokens; the tail that does not fill one is left out.
dataset text_tokens(const fs::path& file, const std::vector<std::int64_t>& sample_shape,
                    const std::string& name) {
    if (sample_shape.size() != 1 || sample_shape[0] < 1)
        fail(status::invalid_argument,
             fmt::format("text '{}' becomes sequences of byte tokens: give their length with "
                         "--input-shape (e.g. 64), the model's sequence dimension is not fixed",
                         file.string()));
    const std::string bytes = read_file(file);
    const std::int64_t seq = sample_shape[0];
    const std::int64_t n = std::int64_t(bytes.size()) / seq;
    if (n == 0)
        fail(status::format_error,
             fmt::format("text '{}' has {} bytes, fewer than one sequence of {}", file.string(),
                         bytes.size(), seq));
    tensor ids(dtype::i64, shape{n, seq});
    auto v = ids.span<std::int64_t>();
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = static_cast<unsigned char>(bytes[i]);
    return dataset(std::move(ids), {}, name);
}

bool is_idx(std::string_view file) {
    const std::string name = fs::path(std::string(file)).filename().string();
    return ends_with(name, ".idx") || ends_with(name, ".idx.gz") || ends_with(name, "-ubyte") ||
           ends_with(name, "-ubyte.gz") || name.find("idx") != std::string::npos;
}

// Runs `body`, prefixing any hone::error with the spec (same status).
template <class F> auto naming_spec(std::string_view spec, F&& body) -> decltype(body()) {
    try {
        return body();
    } catch (const error& e) {
        const std::string prefix = fmt::format("data spec '{}': ", spec);
        if (std::string_view(e.what()).starts_with(prefix)) throw;
        fail(e.code(), prefix + e.what());
    }
}

std::vector<std::uint32_t> mask_members(const tensor& mask, std::int64_t n,
                                        const std::string& where) {
    if (mask.numel() != n)
        fail(status::shape_mismatch,
             fmt::format("{}: the mask has {} values, the data has {} samples", where, mask.numel(),
                         n));
    std::vector<std::uint32_t> members;
    const auto push_nonzero = [&](const auto* values) {
        for (std::int64_t i = 0; i < n; ++i)
            if (values[i] != 0) members.push_back(static_cast<std::uint32_t>(i));
    };
    switch (mask.type()) {
    case dtype::boolean:
    case dtype::u8: push_nonzero(static_cast<const std::uint8_t*>(mask.data())); break;
    case dtype::i8: push_nonzero(static_cast<const std::int8_t*>(mask.data())); break;
    case dtype::i32: push_nonzero(static_cast<const std::int32_t*>(mask.data())); break;
    case dtype::i64: push_nonzero(static_cast<const std::int64_t*>(mask.data())); break;
    default:
        fail(status::format_error, fmt::format("{}: a mask holds booleans or integers, not {}",
                                               where, name_of(mask.type())));
    }
    return members;
}

// The slice file, against the n samples of the data as stored.
std::vector<named_slice> read_slices(const fs::path& file, std::int64_t n,
                                     std::vector<artifact_ref>& files) {
    const std::string text = read_file(file);
    files.push_back(hash_file(file));
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        fail(status::format_error,
             fmt::format("slice file '{}': not valid JSON ({})", file.string(), e.what()));
    }
    std::vector<named_slice> slices;
    if (j.is_array()) {
        // One label per sample (e.g. the book each token sequence comes from): a slice per
        // label, in order of first appearance.
        if (static_cast<std::int64_t>(j.size()) != n)
            fail(status::format_error,
                 fmt::format("slice file '{}': {} labels for the data's {} samples (a label "
                             "array names one slice per sample)",
                             file.string(), j.size(), n));
        std::map<std::string, std::size_t> position;
        for (std::size_t i = 0; i < j.size(); ++i) {
            if (!j[i].is_string() || j[i].get<std::string>().empty())
                fail(status::format_error,
                     fmt::format("slice file '{}': label {} of sample {} is not a non-empty "
                                 "string",
                                 file.string(), j[i].dump(), i));
            const auto label = j[i].get<std::string>();
            const auto [it, fresh] = position.try_emplace(label, slices.size());
            if (fresh) slices.push_back({label, {}});
            slices[it->second].samples.push_back(static_cast<std::uint32_t>(i));
        }
        return slices;
    }
    if (!j.is_object())
        fail(status::format_error,
             fmt::format("slice file '{}': expected an object {{\"slice name\": [indices] or "
                         "\"mask.npy\"}} or an array of one label per sample",
                         file.string()));
    for (const auto& [name, value] : j.items()) {
        const std::string where = fmt::format("slice file '{}', slice '{}'", file.string(), name);
        if (name.empty())
            fail(status::format_error,
                 fmt::format("slice file '{}': a slice has an empty name", file.string()));
        named_slice s{name, {}};
        if (value.is_array()) {
            for (const auto& v : value) {
                if (!v.is_number_integer() && !v.is_number_unsigned())
                    fail(status::format_error,
                         fmt::format("{}: {} is not a sample index", where, v.dump()));
                const auto i = v.get<std::int64_t>();
                if (i < 0 || i >= n)
                    fail(status::format_error,
                         fmt::format("{}: index {} is outside the data's {} samples", where, i, n));
                s.samples.push_back(static_cast<std::uint32_t>(i));
            }
            std::sort(s.samples.begin(), s.samples.end());
            s.samples.erase(std::unique(s.samples.begin(), s.samples.end()), s.samples.end());
        } else if (value.is_string()) {
            fs::path mask_file = value.get<std::string>();
            if (mask_file.is_relative()) mask_file = file.parent_path() / mask_file;
            const tensor mask = parse_npy(read_maybe_gzip(mask_file), mask_file.string());
            files.push_back(hash_file(mask_file));
            s.samples = mask_members(mask, n, where + " (mask '" + mask_file.string() + "')");
        } else {
            fail(status::format_error,
                 fmt::format("{}: expected an array of sample indices or an NPY mask path, got {}",
                             where, value.type_name()));
        }
        if (s.samples.empty())
            fail(status::format_error, fmt::format("{}: the slice has no samples", where));
        slices.push_back(std::move(s));
    }
    return slices;
}

// Which of the n stored samples subset(k, seed) keeps, in order: the same draw on a data set
// of sample indices (the draw depends only on n and the seed).
std::vector<std::uint32_t> subset_indices(std::int64_t n, std::int64_t k, std::uint64_t seed) {
    tensor index(dtype::f32, shape{n, 1});
    auto values = index.span<float>();
    std::iota(values.begin(), values.end(), 0.0f); // exact below 2^24 samples
    const dataset drawn = dataset(std::move(index), {}, "indices").subset(k, seed);
    std::vector<std::uint32_t> out;
    for (const float v : drawn.inputs().span<float>())
        out.push_back(static_cast<std::uint32_t>(v));
    return out;
}

std::string shape_text(std::span<const std::int64_t> dims) { return shape(dims).to_string(); }

// [3, ?, ?]: −1 for a dynamic dimension.
std::string pattern_text(std::span<const std::int64_t> dims) {
    std::string s;
    for (const auto d : dims)
        s += (s.empty() ? "" : ", ") + (d < 0 ? std::string("?") : std::to_string(d));
    return "[" + s + "]";
}

} // namespace

data_source parse_data_spec(std::string_view spec) {
    if (spec.empty())
        bad_spec(spec, "empty (expected fashion-mnist:train|test[:N], "
                       "IMAGES.idx[.gz][,LABELS.idx[.gz]][:N] or "
                       "INPUTS.npy[,LABELS.npy][:N])");
    data_source src;
    std::string_view body = spec;
    if (const auto colon = body.rfind(':');
        colon != std::string_view::npos && colon > 0 && all_digits(body.substr(colon + 1))) {
        const std::string_view digits = body.substr(colon + 1);
        std::int64_t n = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec != std::errc() || end != digits.data() + digits.size())
            bad_spec(spec, fmt::format("subset size '{}' is too large", digits));
        if (n < 1) bad_spec(spec, "a subset needs at least 1 sample (':0' given)");
        src.subset = n;
        body = body.substr(0, colon);
    }
    if (body == "fashion-mnist" || body.starts_with("fashion-mnist:")) {
        const std::string_view split = body.size() > 14 ? body.substr(14) : std::string_view();
        if (split != "train" && split != "test")
            bad_spec(spec, fmt::format("unknown Fashion-MNIST split '{}' (expected "
                                       "fashion-mnist:train or fashion-mnist:test, optionally :N)",
                                       split));
        src.format = data_source::kind::fashion_mnist;
        src.split = std::string(split);
        return src;
    }
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const std::size_t comma = body.find(',', start);
        parts.push_back(
            body.substr(start, comma == std::string_view::npos ? body.npos : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    if (parts.size() > 2)
        bad_spec(spec, fmt::format("expected INPUTS[,LABELS], got {} comma-separated files",
                                   parts.size()));
    for (const auto p : parts)
        if (p.empty()) bad_spec(spec, "an empty file name");
    const std::string_view inputs = parts[0];
    if (is_npy(inputs))
        src.format = data_source::kind::npy;
    else if (is_text(inputs))
        src.format = data_source::kind::text;
    else if (is_idx(inputs))
        src.format = data_source::kind::idx;
    else
        bad_spec(spec, fmt::format("cannot tell the format of '{}' (NPY files end in .npy, IDX "
                                   "files in .idx, .idx.gz, -ubyte or -ubyte.gz, text in .txt; "
                                   "or use fashion-mnist:train|test)",
                                   inputs));
    src.inputs = std::string(inputs);
    if (parts.size() == 2 && src.format == data_source::kind::text)
        bad_spec(spec, "text has no labels: a language model's targets are its next tokens");
    if (parts.size() == 2) {
        const std::string_view labels = parts[1];
        const bool same = src.format == data_source::kind::npy ? is_npy(labels) : is_idx(labels);
        if (!same)
            bad_spec(spec, fmt::format("labels '{}' must be {} like the inputs", labels,
                                       src.format == data_source::kind::npy
                                           ? "an NPY file (.npy)"
                                           : "an IDX file (.idx[.gz] or -ubyte[.gz])"));
        src.labels = std::string(labels);
    }
    return src;
}

std::vector<std::int64_t> parse_sample_shape(std::string_view text) {
    std::vector<std::int64_t> dims;
    std::size_t start = 0;
    while (true) {
        const std::size_t sep = text.find_first_of("x,", start);
        const std::string_view part =
            text.substr(start, sep == text.npos ? text.npos : sep - start);
        std::int64_t d = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), d);
        if (part.empty() || ec != std::errc() || end != part.data() + part.size() || d < 1)
            fail(
                status::invalid_argument,
                fmt::format("input shape '{}': expected positive sizes like 784 or 1x28x28", text));
        dims.push_back(d);
        if (sep == text.npos) break;
        start = sep + 1;
    }
    return dims;
}

/// d with each sample in the model's input shape (options.sample_shape; see data_options).
static dataset fit_sample_shape(dataset d, const data_options& options) {
    const bool dynamic =
        std::count(options.sample_shape.begin(), options.sample_shape.end(), std::int64_t{-1}) > 0;
    if (dynamic) {
        const auto dims = d.inputs().dims().dims();
        const auto own = dims.subspan(1);
        bool fits = own.size() == options.sample_shape.size();
        for (std::size_t k = 0; fits && k < own.size(); ++k)
            fits = options.sample_shape[k] < 0 || options.sample_shape[k] == own[k];
        if (!fits)
            fail(status::shape_mismatch,
                 fmt::format("a sample is {}, and the model input {} has dynamic dimensions "
                             "('?') the data cannot resolve: give --input-shape",
                             shape_text(own), pattern_text(options.sample_shape)));
    } else if (!options.sample_shape.empty()) {
        const auto dims = d.inputs().dims().dims();
        const std::int64_t have =
            std::accumulate(dims.begin() + 1, dims.end(), std::int64_t{1}, std::multiplies<>());
        const std::int64_t want =
            std::accumulate(options.sample_shape.begin(), options.sample_shape.end(),
                            std::int64_t{1}, std::multiplies<>());
        if (have != want)
            fail(status::shape_mismatch,
                 fmt::format("a sample has {} values ({}), but the model input {} needs {}", have,
                             shape_text(dims.subspan(1)), shape_text(options.sample_shape), want));
        d = d.reshaped(shape(std::span<const std::int64_t>(options.sample_shape)));
    }
    return d;
}

loaded_data load_data(std::string_view spec, const data_options& options) {
    const data_source src = parse_data_spec(spec);
    if (options.mean.has_value() != options.std.has_value())
        bad_spec(spec, "a normalization needs both --mean and --std");
    if (options.std && !(*options.std > 0))
        bad_spec(spec, fmt::format("--std must be positive, got {}", *options.std));
    for (const fs::path& f : {src.inputs, src.labels})
        if (!f.empty() && !fs::exists(f))
            fail(status::io_error,
                 fmt::format("data spec '{}': file '{}' does not exist", spec, f.string()));

    return naming_spec(spec, [&] {
        std::vector<artifact_ref> files;
        dataset d = [&] {
            switch (src.format) {
            case data_source::kind::fashion_mnist: {
                const std::string prefix = src.split == "train" ? "train" : "t10k";
                for (const char* part : {"-images-idx3-ubyte.gz", "-labels-idx1-ubyte.gz"}) {
                    const fs::path f = options.fashion_mnist_root / (prefix + part);
                    if (!fs::exists(f))
                        fail(status::io_error,
                             fmt::format("file '{}' does not exist (install the Debian package "
                                         "dataset-fashion-mnist)",
                                         f.string()));
                    files.push_back(hash_file(f));
                }
                return dataset::fashion_mnist(src.split, options.fashion_mnist_root);
            }
            case data_source::kind::idx:
                files.push_back(hash_file(src.inputs));
                if (!src.labels.empty()) files.push_back(hash_file(src.labels));
                return dataset::from_idx(src.inputs, src.labels, std::string(spec));
            case data_source::kind::npy:
                files.push_back(hash_file(src.inputs));
                if (!src.labels.empty()) files.push_back(hash_file(src.labels));
                return dataset::from_npy(src.inputs, src.labels, std::string(spec));
            case data_source::kind::text:
                files.push_back(hash_file(src.inputs));
                return text_tokens(src.inputs, options.sample_shape, std::string(spec));
            }
            fail(status::internal, "unknown data format");
        }();
        const std::int64_t stored = d.size();
        if (stored == 0) fail(status::format_error, "the data has no samples");
        std::vector<named_slice> slices;
        if (!options.slices_file.empty()) slices = read_slices(options.slices_file, stored, files);

        if (src.subset) {
            if (*src.subset > stored)
                fail(status::invalid_argument,
                     fmt::format("asks for {} samples, but the data has only {}", *src.subset,
                                 stored));
            if (*src.subset < stored) {
                const auto kept = subset_indices(stored, *src.subset, options.seed);
                std::vector<std::int64_t> renumber(static_cast<std::size_t>(stored), -1);
                for (std::size_t k = 0; k < kept.size(); ++k)
                    renumber[kept[k]] = static_cast<std::int64_t>(k);
                for (auto& s : slices) {
                    std::vector<std::uint32_t> members;
                    for (const auto i : s.samples)
                        if (renumber[i] >= 0)
                            members.push_back(static_cast<std::uint32_t>(renumber[i]));
                    if (members.empty())
                        fail(status::invalid_argument,
                             fmt::format(
                                 "slice '{}' has none of its {} samples in the subset of {}; "
                                 "use a larger subset",
                                 s.name, s.samples.size(), *src.subset));
                    s.samples = std::move(members);
                }
                d = d.subset(*src.subset, options.seed);
            }
        }
        d = fit_sample_shape(std::move(d), options);
        if (options.mean) d.normalize(*options.mean, *options.std);
        loaded_data out{std::string(spec), std::move(d), std::move(slices), {}, std::move(files)};
        if (src.format == data_source::kind::fashion_mnist)
            out.class_names = dataset::fashion_mnist_classes();
        return out;
    });
}

loaded_data load_memory(const dataset& given, std::string_view name, const data_options& options) {
    const std::string spec = fmt::format("memory:{}", name);
    return naming_spec(spec, [&] {
        const auto l = given.labels();
        dataset d(tensor::copy_of(given.inputs().view()), {l.begin(), l.end()}, spec);
        if (d.size() == 0) fail(status::format_error, "the data has no samples");
        // The ledger records what was given: the SHA-256 of the inputs' bytes and of the labels.
        const auto& x = d.inputs();
        const std::string_view in_bytes(static_cast<const char*>(x.data()), x.nbytes());
        std::vector<artifact_ref> files{{spec + ":inputs", sha256_hex(in_bytes), x.nbytes()}};
        if (d.has_labels()) {
            const std::string_view l_bytes(reinterpret_cast<const char*>(l.data()),
                                           l.size() * sizeof(std::int64_t));
            files.push_back({spec + ":labels", sha256_hex(l_bytes), l_bytes.size()});
        }
        std::vector<named_slice> slices;
        if (!options.slices_file.empty())
            slices = read_slices(options.slices_file, d.size(), files);
        d = fit_sample_shape(std::move(d), options);
        if (options.mean) d.normalize(*options.mean, *options.std);
        return loaded_data{spec, std::move(d), std::move(slices), {}, std::move(files)};
    });
}

std::string data_json(const loaded_data& data, const data_options& options) {
    json files = json::array();
    for (const auto& f : data.files)
        files.push_back({{"path", f.path}, {"sha256", f.sha256}, {"bytes", f.bytes}});
    json slices = json::object();
    for (const auto& s : data.slices)
        slices[s.name] = s.samples.size();
    json j = {{"spec", data.spec},
              {"samples", data.data.size()},
              {"files", std::move(files)},
              {"seed", options.seed},
              {"slices", std::move(slices)}};
    if (options.mean) j["normalize"] = {{"mean", *options.mean}, {"std", *options.std}};
    return j.dump();
}

} // namespace hone
