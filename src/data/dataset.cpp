#include "hone/data/dataset.hpp"

#include "hone/core/error.hpp"
#include "hone/data/arrays.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <numeric>
#include <random>

namespace hone {

namespace {

// u8 images → f32 in [0, 1]; f32 and i64 (token ids) stay; i32 token ids become i64; anything
// else is refused, naming the file.
tensor to_float_inputs(tensor raw, const std::string& source) {
    if (raw.type() == dtype::f32 || raw.type() == dtype::i64) return raw;
    if (raw.type() == dtype::i32) {
        tensor ids(dtype::i64, raw.dims());
        std::copy_n(static_cast<const std::int32_t*>(raw.data()), raw.numel(),
                    ids.span<std::int64_t>().data());
        return ids;
    }
    if (raw.type() != dtype::u8)
        fail(status::dtype_mismatch,
             fmt::format("'{}': inputs of type {} (expected u8 images, f32, or i32/i64 token ids)",
                         source, name_of(raw.type())));
    tensor out(dtype::f32, raw.dims());
    const auto* src = static_cast<const std::uint8_t*>(raw.data());
    auto dst = out.span<float>();
    for (std::size_t i = 0; i < dst.size(); ++i)
        dst[i] = float(src[i]) / 255.0f;
    return out;
}

std::vector<std::int64_t> to_labels(const tensor& raw, const std::string& source) {
    if (raw.dims().rank() != 1)
        fail(status::shape_mismatch,
             fmt::format("'{}': labels of shape {} (expected one dimension)", source,
                         raw.dims().to_string()));
    std::vector<std::int64_t> out(static_cast<std::size_t>(raw.numel()));
    for (std::size_t i = 0; i < out.size(); ++i) {
        switch (raw.type()) {
        case dtype::u8: out[i] = static_cast<const std::uint8_t*>(raw.data())[i]; break;
        case dtype::i8: out[i] = static_cast<const std::int8_t*>(raw.data())[i]; break;
        case dtype::i32: out[i] = static_cast<const std::int32_t*>(raw.data())[i]; break;
        case dtype::i64: out[i] = static_cast<const std::int64_t*>(raw.data())[i]; break;
        default:
            fail(status::dtype_mismatch, fmt::format("'{}': labels of type {} (expected integers)",
                                                     source, name_of(raw.type())));
        }
        if (out[i] < 0)
            fail(status::format_error,
                 fmt::format("'{}': label {} of sample {} is negative", source, out[i], i));
    }
    return out;
}

} // namespace

dataset::dataset(tensor inputs, std::vector<std::int64_t> labels, std::string name)
    : inputs_(std::move(inputs)), labels_(std::move(labels)), name_(std::move(name)) {
    if ((inputs_.type() != dtype::f32 && inputs_.type() != dtype::i64) || inputs_.dims().rank() < 1)
        fail(status::invalid_argument,
             fmt::format("dataset '{}': inputs must be f32 or i64 [N, ...], got {} {}", name_,
                         name_of(inputs_.type()), inputs_.dims().to_string()));
    if (!labels_.empty() && static_cast<std::int64_t>(labels_.size()) != size())
        fail(status::shape_mismatch,
             fmt::format("dataset '{}': {} inputs but {} labels", name_, size(), labels_.size()));
}

dataset dataset::from_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                          std::string name) {
    const std::string source = images.string();
    tensor inputs = to_float_inputs(parse_idx(read_maybe_gzip(images), source), source);
    std::vector<std::int64_t> y;
    if (!labels.empty())
        y = to_labels(parse_idx(read_maybe_gzip(labels), labels.string()), labels.string());
    if (!y.empty() && static_cast<std::int64_t>(y.size()) != inputs.dims()[0])
        fail(status::shape_mismatch,
             fmt::format("'{}' has {} images but '{}' has {} labels", source, inputs.dims()[0],
                         labels.string(), y.size()));
    return dataset(std::move(inputs), std::move(y), name.empty() ? source : std::move(name));
}

dataset dataset::from_npy(const std::filesystem::path& inputs, const std::filesystem::path& labels,
                          std::string name) {
    const std::string source = inputs.string();
    tensor x = to_float_inputs(parse_npy(read_maybe_gzip(inputs), source), source);
    std::vector<std::int64_t> y;
    if (!labels.empty())
        y = to_labels(parse_npy(read_maybe_gzip(labels), labels.string()), labels.string());
    if (!y.empty() && static_cast<std::int64_t>(y.size()) != x.dims()[0])
        fail(status::shape_mismatch, fmt::format("'{}' has {} samples but '{}' has {} labels",
                                                 source, x.dims()[0], labels.string(), y.size()));
    return dataset(std::move(x), std::move(y), name.empty() ? source : std::move(name));
}

dataset dataset::fashion_mnist(std::string_view split, const std::filesystem::path& root) {
    std::string prefix;
    if (split == "train")
        prefix = "train";
    else if (split == "test")
        prefix = "t10k";
    else
        fail(status::invalid_argument,
             fmt::format("Fashion-MNIST split '{}' (expected train or test)", split));
    auto d =
        from_idx(root / (prefix + "-images-idx3-ubyte.gz"),
                 root / (prefix + "-labels-idx1-ubyte.gz"), fmt::format("fashion-mnist:{}", split));
    return d.reshaped({784});
}

const std::vector<std::string>& dataset::fashion_mnist_classes() {
    static const std::vector<std::string> names = {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return names;
}

dataset dataset::reshaped(const shape& sample_shape) const {
    std::vector<std::int64_t> dims{size()};
    dims.insert(dims.end(), sample_shape.dims().begin(), sample_shape.dims().end());
    const shape target{std::span<const std::int64_t>(dims)};
    if (target.numel() != inputs_.numel())
        fail(status::shape_mismatch,
             fmt::format("dataset '{}': samples of {} elements cannot become {}", name_,
                         size() == 0 ? 0 : inputs_.numel() / size(), sample_shape.to_string()));
    tensor t(inputs_.type(), target);
    std::memcpy(t.data(), inputs_.data(), inputs_.nbytes());
    return dataset(std::move(t), labels_, name_);
}

dataset dataset::subset(std::int64_t n, std::uint64_t seed) const {
    std::vector<std::uint32_t> order(static_cast<std::size_t>(size()));
    std::iota(order.begin(), order.end(), 0u);
    if (n < size()) { // partial Fisher–Yates with our own draw, so every platform agrees
        std::mt19937_64 rng(seed);
        for (std::int64_t i = 0; i < n; ++i) {
            const auto j = static_cast<std::size_t>(
                i + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(size() - i)));
            std::swap(order[static_cast<std::size_t>(i)], order[j]);
        }
        order.resize(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
        std::sort(order.begin(), order.end());
    }
    std::vector<std::int64_t> dims(inputs_.dims().dims().begin(), inputs_.dims().dims().end());
    dims[0] = static_cast<std::int64_t>(order.size());
    tensor t(inputs_.type(), shape(std::span<const std::int64_t>(dims)));
    const std::size_t row = size() == 0 ? 0 : inputs_.nbytes() / static_cast<std::size_t>(size());
    std::vector<std::int64_t> y;
    for (std::size_t k = 0; k < order.size(); ++k) {
        std::memcpy(static_cast<std::byte*>(t.data()) + k * row,
                    static_cast<const std::byte*>(inputs_.data()) + order[k] * row, row);
        if (!labels_.empty()) y.push_back(labels_[order[k]]);
    }
    return dataset(std::move(t), std::move(y), fmt::format("{}:{}", name_, order.size()));
}

void dataset::normalize(float mean, float std) {
    if (!(std > 0))
        fail(status::invalid_argument, fmt::format("dataset '{}': std {} must be > 0", name_, std));
    if (inputs_.type() != dtype::f32)
        fail(status::invalid_argument,
             fmt::format("dataset '{}': token ids ({}) cannot be normalized (--mean/--std)", name_,
                         name_of(inputs_.type())));
    for (float& x : inputs_.span<float>())
        x = (x - mean) / std;
}

std::map<std::int64_t, std::vector<std::uint32_t>> dataset::indices_by_label() const {
    std::map<std::int64_t, std::vector<std::uint32_t>> out;
    for (std::size_t i = 0; i < labels_.size(); ++i)
        out[labels_[i]].push_back(static_cast<std::uint32_t>(i));
    return out;
}

} // namespace hone
