// Hugging Face checkpoint folders: config.json plus one or many safetensors shards.
#include "hone/io/checkpoint.hpp"

#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/kernels/convert.hpp"

#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>

namespace hone::io {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct checkpoint::impl {
    fs::path folder;
    std::string config;
    std::vector<fs::path> shard_paths;
    std::vector<safetensors_file> shards;
    std::map<std::string, std::size_t, std::less<>> shard_of; // tensor → shard index
};

namespace {

const char* const index_name = "model.safetensors.index.json";
const char* const single_name = "model.safetensors";

json parse_json(const fs::path& p) {
    const std::string text = read_file(p);
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) fail(status::format_error, fmt::format("{}: not valid JSON", p.string()));
    return j;
}

// Shard names from the index: weight_map entries, each a plain file name in the folder.
std::map<std::string, std::string, std::less<>> read_weight_map(const fs::path& index) {
    const json j = parse_json(index);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
        fail(status::format_error,
             fmt::format("{}: field 'weight_map' missing or not an object", index.string()));
    std::map<std::string, std::string, std::less<>> map;
    for (const auto& [tensor_name, shard] : j["weight_map"].items()) {
        if (!shard.is_string())
            fail(status::format_error,
                 fmt::format("{}: weight_map['{}'] is not a string", index.string(), tensor_name));
        const std::string file = shard.get<std::string>();
        if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
            fail(status::format_error,
                 fmt::format("{}: weight_map['{}'] = '{}' is not a file name in the folder",
                             index.string(), tensor_name, file));
        map.emplace(tensor_name, file);
    }
    return map;
}

} // namespace

checkpoint::checkpoint(std::shared_ptr<const impl> state) noexcept : impl_(std::move(state)) {}

checkpoint checkpoint::open(const fs::path& folder) {
    auto st = std::make_shared<impl>();
    st->folder = folder;
    const fs::path config = folder / "config.json";
    if (!fs::is_regular_file(config))
        fail(status::not_found, fmt::format("checkpoint {}: config.json missing", folder.string()));
    st->config = read_file(config);
    if (const json j = json::parse(st->config, nullptr, false); !j.is_object())
        fail(status::format_error, fmt::format("{}: not a JSON object", config.string()));

    const fs::path index = folder / index_name;
    if (fs::exists(index)) {
        const auto map = read_weight_map(index);
        std::map<std::string, std::size_t, std::less<>> shard_index;
        for (const auto& entry : map) {
            if (shard_index.count(entry.second)) continue;
            const fs::path p = folder / entry.second;
            if (!fs::is_regular_file(p))
                fail(status::not_found, fmt::format("{}: shard '{}' (of tensor '{}') missing",
                                                    index.string(), entry.second, entry.first));
            shard_index.emplace(entry.second, 0);
        }
        for (auto& [file, i] : shard_index) {
            i = st->shards.size();
            st->shard_paths.push_back(folder / file);
            st->shards.push_back(safetensors_file::open(folder / file));
        }
        for (const auto& [name, file] : map) {
            const std::size_t i = shard_index.at(file);
            if (!st->shards[i].contains(name))
                fail(status::format_error,
                     fmt::format("{}: tensor '{}' is listed in shard '{}', which lacks it",
                                 index.string(), name, file));
            st->shard_of.emplace(name, i);
        }
        for (std::size_t i = 0; i < st->shards.size(); ++i)
            for (const auto& t : st->shards[i].tensors()) {
                const auto it = map.find(t.name);
                if (it == map.end() || st->shard_of.at(t.name) != i)
                    fail(status::format_error,
                         fmt::format("{}: tensor '{}' of shard '{}' is not in the index under "
                                     "that shard",
                                     index.string(), t.name,
                                     st->shard_paths[i].filename().string()));
            }
    } else {
        const fs::path single = folder / single_name;
        if (!fs::is_regular_file(single))
            fail(status::not_found, fmt::format("checkpoint {}: neither {} nor {} found",
                                                folder.string(), index_name, single_name));
        st->shard_paths.push_back(single);
        st->shards.push_back(safetensors_file::open(single));
        for (const auto& t : st->shards[0].tensors())
            st->shard_of.emplace(t.name, 0);
    }
    return checkpoint(std::move(st));
}

const fs::path& checkpoint::folder() const noexcept { return impl_->folder; }
const std::string& checkpoint::config_text() const noexcept { return impl_->config; }
std::vector<fs::path> checkpoint::shards() const { return impl_->shard_paths; }

std::vector<std::string> checkpoint::names() const {
    std::vector<std::string> out;
    out.reserve(impl_->shard_of.size());
    for (const auto& entry : impl_->shard_of)
        out.push_back(entry.first);
    return out;
}

bool checkpoint::contains(std::string_view name) const noexcept {
    return impl_->shard_of.find(name) != impl_->shard_of.end();
}

namespace {
std::size_t shard_index(const checkpoint::impl& st, std::string_view name) {
    const auto it = st.shard_of.find(name);
    if (it == st.shard_of.end())
        fail(status::not_found,
             fmt::format("checkpoint {}: no tensor '{}'", st.folder.string(), name));
    return it->second;
}
} // namespace

const safetensors_tensor_info& checkpoint::info(std::string_view name) const {
    return impl_->shards[shard_index(*impl_, name)].info(name);
}

const fs::path& checkpoint::shard_of(std::string_view name) const {
    return impl_->shard_paths[shard_index(*impl_, name)];
}

const_tensor_view checkpoint::view(std::string_view name) const {
    return impl_->shards[shard_index(*impl_, name)].view(name);
}

tensor checkpoint::read_f32(std::string_view name) const {
    const safetensors_file& shard = impl_->shards[shard_index(*impl_, name)];
    tensor t = shard.take(name); // bounded memory: the mapped pages do not stay resident
    if (t.type() == dtype::f32) return t;
    if (t.type() != dtype::f16 && t.type() != dtype::bf16)
        fail(status::dtype_mismatch,
             fmt::format("checkpoint {}: tensor '{}' is {}, expected F32, F16 or BF16",
                         impl_->folder.string(), name, safetensors_dtype_name(t.type())));
    tensor out(dtype::f32, t.dims());
    kernels::convert(t.view(), out.view());
    return out;
}

} // namespace hone::io
