// hone/data/dataset.hpp — labelled evaluation and calibration data in memory.
//
// A dataset holds inputs as f32 [N, ...] (or i64 token ids [N, seq] for language models) and,
// optionally, N int64 labels. Image bytes (u8) become f32 in [0, 1]; i32 token ids become i64.
// Fashion-MNIST comes from the Debian package dataset-fashion-mnist.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hone {

/// A named subset of the samples (edge cases, a customer segment, a class).
struct named_slice {
    std::string name;
    std::vector<std::uint32_t> samples; ///< indices into the data set
};

class HONE_EXPORT dataset {
public:
    /// Takes inputs f32 or i64 [N, ...] and N labels (or none). Throws invalid_argument otherwise.
    dataset(tensor inputs, std::vector<std::int64_t> labels, std::string name);

    /// An IDX image file (u8 → f32/255; f32 kept) and an IDX label file (may be empty: no
    /// labels), each raw or gzip. Errors name the file.
    static dataset from_idx(const std::filesystem::path& images,
                            const std::filesystem::path& labels, std::string name = {});
    /// NPY inputs (f32, u8 → f32/255, i64 token ids, i32 → i64) and NPY labels (integers; may be
    /// empty).
    static dataset from_npy(const std::filesystem::path& inputs,
                            const std::filesystem::path& labels, std::string name = {});
    /// "train" (60,000) or "test" (10,000) from `root`, as [N, 784] f32 in [0, 1].
    static dataset fashion_mnist(std::string_view split,
                                 const std::filesystem::path& root = fashion_mnist_root);
    static constexpr const char* fashion_mnist_root = "/usr/share/datasets/fashion-mnist";
    /// "T-shirt/top", "Trouser", … "Ankle boot": the label names, by label.
    static const std::vector<std::string>& fashion_mnist_classes();

    const std::string& name() const noexcept { return name_; }
    std::int64_t size() const noexcept { return inputs_.dims()[0]; }
    const tensor& inputs() const noexcept { return inputs_; }
    std::span<const std::int64_t> labels() const noexcept { return labels_; }
    bool has_labels() const noexcept { return !labels_.empty(); }

    /// The same samples, each reshaped to `sample_shape` (e.g. {1, 28, 28}); throws
    /// shape_mismatch when the element counts differ.
    dataset reshaped(const shape& sample_shape) const;
    /// n samples chosen at random without replacement by `seed`, kept in their original
    /// order; the same seed gives the same subset. n ≥ size() gives a copy of all.
    dataset subset(std::int64_t n, std::uint64_t seed) const;
    /// x ← (x − mean) / std for every input value; throws invalid_argument for std ≤ 0 or token
    /// ids.
    void normalize(float mean, float std);
    /// Sample indices per label, labels ascending (empty without labels).
    std::map<std::int64_t, std::vector<std::uint32_t>> indices_by_label() const;

private:
    tensor inputs_;
    std::vector<std::int64_t> labels_;
    std::string name_;
};

} // namespace hone
