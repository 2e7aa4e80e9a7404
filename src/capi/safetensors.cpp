// C ABI for safetensors files (hone.h, "safetensors files").
#include "hone/io/safetensors.hpp"
#include "guard.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>
#include <optional>
#include <string>
#include <vector>

struct hone_safetensors {
    hone::io::safetensors_file file;
    std::vector<std::string> names;
    std::vector<const std::string*> metadata_keys;
};

namespace {

using hone::capi::guarded;
using hone::capi::named;
using hone::capi::require;

hone_safetensors* make_handle(hone::io::safetensors_file f) {
    auto* h = new hone_safetensors{std::move(f), {}, {}};
    h->names = h->file.names();
    for (const auto& [k, v] : h->file.metadata())
        h->metadata_keys.push_back(&k);
    return h;
}

const hone_safetensors& handle(const hone_safetensors* f, const char* function) {
    return *require(f, function, "file");
}

} // namespace

extern "C" {

HONE_API hone_status hone_safetensors_open(const char* path, hone_safetensors** out) {
    return guarded([&] {
        named("hone_safetensors_open", [&] {
            require(path, "hone_safetensors_open", "path");
            require(out, "hone_safetensors_open", "out");
            *out = make_handle(hone::io::safetensors_file::open(path));
        });
    });
}

HONE_API hone_status hone_safetensors_open_memory(const void* data, size_t size,
                                                  hone_safetensors** out) {
    return guarded([&] {
        named("hone_safetensors_open_memory", [&] {
            require(out, "hone_safetensors_open_memory", "out");
            if (size > 0) require(data, "hone_safetensors_open_memory", "data");
            const auto* p = static_cast<const std::byte*>(data);
            *out = make_handle(
                hone::io::safetensors_file::parse(std::span<const std::byte>(p, size), "<memory>"));
        });
    });
}

HONE_API void hone_safetensors_destroy(hone_safetensors* file) { delete file; }

HONE_API hone_status hone_safetensors_count(const hone_safetensors* file, size_t* out) {
    return guarded([&] {
        const auto& h = handle(file, "hone_safetensors_count");
        *require(out, "hone_safetensors_count", "out") = h.names.size();
    });
}

HONE_API hone_status hone_safetensors_name(const hone_safetensors* file, size_t index, char* buffer,
                                           size_t capacity, size_t* needed) {
    return guarded([&] {
        const auto& h = handle(file, "hone_safetensors_name");
        if (index >= h.names.size())
            hone::fail(hone::status::out_of_range,
                       fmt::format("hone_safetensors_name: index {} but '{}' has {} tensors", index,
                                   h.file.source(), h.names.size()));
        hone::capi::copy_string(h.names[index], buffer, capacity, needed, "hone_safetensors_name");
    });
}

HONE_API hone_status hone_safetensors_get(const hone_safetensors* file, const char* name,
                                          hone_tensor** out) {
    return guarded([&] {
        named("hone_safetensors_get", [&] {
            const auto& h = handle(file, "hone_safetensors_get");
            require(name, "hone_safetensors_get", "name");
            require(out, "hone_safetensors_get", "out");
            *out = hone::capi::make_owned_handle(h.file.read(name));
        });
    });
}

HONE_API hone_status hone_safetensors_metadata_count(const hone_safetensors* file, size_t* out) {
    return guarded([&] {
        const auto& h = handle(file, "hone_safetensors_metadata_count");
        *require(out, "hone_safetensors_metadata_count", "out") = h.metadata_keys.size();
    });
}

HONE_API hone_status hone_safetensors_metadata_key(const hone_safetensors* file, size_t index,
                                                   char* buffer, size_t capacity, size_t* needed) {
    return guarded([&] {
        const auto& h = handle(file, "hone_safetensors_metadata_key");
        if (index >= h.metadata_keys.size())
            hone::fail(hone::status::out_of_range,
                       fmt::format("hone_safetensors_metadata_key: index {} but '{}' has {} "
                                   "metadata entries",
                                   index, h.file.source(), h.metadata_keys.size()));
        hone::capi::copy_string(*h.metadata_keys[index], buffer, capacity, needed,
                                "hone_safetensors_metadata_key");
    });
}

HONE_API hone_status hone_safetensors_metadata_get(const hone_safetensors* file, const char* key,
                                                   char* buffer, size_t capacity, size_t* needed) {
    return guarded([&] {
        const auto& h = handle(file, "hone_safetensors_metadata_get");
        require(key, "hone_safetensors_metadata_get", "key");
        const auto& m = h.file.metadata();
        const auto it = m.find(std::string_view(key));
        if (it == m.end())
            hone::fail(hone::status::not_found,
                       fmt::format("hone_safetensors_metadata_get: '{}' has no metadata key '{}'",
                                   h.file.source(), key));
        hone::capi::copy_string(it->second, buffer, capacity, needed,
                                "hone_safetensors_metadata_get");
    });
}

HONE_API hone_status hone_safetensors_save(const char* path, size_t count, const char* const* names,
                                           const hone_tensor* const* tensors, size_t metadata_count,
                                           const char* const* metadata_keys,
                                           const char* const* metadata_values) {
    return guarded([&] {
        named("hone_safetensors_save", [&] {
            const char* fn = "hone_safetensors_save";
            require(path, fn, "path");
            if (count > 0) {
                require(names, fn, "names");
                require(tensors, fn, "tensors");
            }
            if (metadata_count > 0) {
                require(metadata_keys, fn, "metadata_keys");
                require(metadata_values, fn, "metadata_values");
            }
            std::vector<hone::io::safetensors_entry> entries;
            for (size_t i = 0; i < count; ++i) {
                if (names[i] == nullptr || tensors[i] == nullptr)
                    hone::fail(hone::status::invalid_argument,
                               fmt::format("{}: names[{}] or tensors[{}] is NULL", fn, i, i));
                entries.push_back({names[i], tensors[i]->view});
            }
            hone::io::safetensors_metadata meta;
            for (size_t i = 0; i < metadata_count; ++i) {
                if (metadata_keys[i] == nullptr || metadata_values[i] == nullptr)
                    hone::fail(hone::status::invalid_argument,
                               fmt::format("{}: metadata_keys[{}] or metadata_values[{}] is NULL",
                                           fn, i, i));
                if (!meta.emplace(metadata_keys[i], metadata_values[i]).second)
                    hone::fail(
                        hone::status::invalid_argument,
                        fmt::format("{}: metadata key '{}' is given twice", fn, metadata_keys[i]));
            }
            hone::io::save_safetensors(path, entries, meta);
        });
    });
}

} // extern "C"
