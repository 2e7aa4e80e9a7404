#include "hone/core/tensor.hpp"
#include "guard.hpp"
#include "hone/kernels/convert.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>
#include <memory>
#include <optional>

namespace {

using hone::capi::guarded;
using hone::capi::require;

hone::dtype checked_dtype(const hone_dtype& field, const char* function) {
    const auto value = hone::capi::raw_enum(field);
    const auto t = static_cast<hone::dtype>(value);
    if (value < 0 || value >= hone::dtype_count)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: params->dtype {} is not a hone_dtype", function, int(value)));
    return t;
}

hone::shape checked_shape(const hone_tensor_params* p, const char* function) {
    hone::capi::check_struct_size(p->struct_size, sizeof(hone_tensor_params), function,
                                  "hone_tensor_params");
    if (p->rank > HONE_MAX_RANK)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: params->rank {} exceeds HONE_MAX_RANK ({})", function, p->rank,
                               HONE_MAX_RANK));
    if (p->rank > 0 && p->dims == nullptr)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: params->dims is NULL for rank {}", function, p->rank));
    return hone::shape(std::span<const std::int64_t>(p->dims, p->rank));
}

const hone::tensor_view& view_of(const hone_tensor* t, const char* function) {
    return require(t, function, "tensor")->view;
}

void copy_dims(const hone_tensor* t, std::int64_t* out, std::size_t capacity, bool strides,
               const char* function) {
    const auto& v = view_of(t, function);
    if (v.rank() > 0) require(out, function, strides ? "strides" : "dims");
    if (capacity < v.rank())
        hone::fail(hone::status::out_of_range,
                   fmt::format("{}: capacity {} is less than the tensor's rank {}", function,
                               capacity, v.rank()));
    for (std::size_t i = 0; i < v.rank(); ++i)
        out[i] = strides ? v.stride(i) : v.dims()[i];
}

} // namespace

extern "C" {

HONE_API hone_status hone_tensor_params_init(hone_tensor_params* params) {
    return guarded([&] {
        *require(params, "hone_tensor_params_init", "params") =
            hone_tensor_params{sizeof(hone_tensor_params), HONE_DTYPE_F32, 0, nullptr, nullptr};
    });
}

HONE_API hone_status hone_tensor_create(const hone_tensor_params* params, hone_tensor** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_tensor_create";
        require(params, fn, "params");
        require(out, fn, "out");
        const hone::shape dims = checked_shape(params, fn);
        if (params->strides != nullptr)
            hone::fail(hone::status::invalid_argument,
                       "hone_tensor_create: params->strides must be NULL (owned tensors are "
                       "contiguous; strides are for hone_tensor_wrap)");
        *out = hone::capi::make_owned_handle(hone::tensor(checked_dtype(params->dtype, fn), dims));
    });
}

HONE_API hone_status hone_tensor_wrap(const hone_tensor_params* params, void* data,
                                      size_t data_bytes, hone_tensor** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_tensor_wrap";
        require(params, fn, "params");
        require(out, fn, "out");
        const hone::shape dims = checked_shape(params, fn);
        const hone::dtype type = checked_dtype(params->dtype, fn);
        std::span<const std::int64_t> strides;
        if (params->strides != nullptr) strides = {params->strides, params->rank};
        hone::tensor_view view;
        hone::capi::named(fn,
                          [&] { view = hone::make_view(data, data_bytes, type, dims, strides); });
        auto handle = std::make_unique<hone_tensor>();
        handle->view = view;
        *out = handle.release();
    });
}

HONE_API void hone_tensor_destroy(hone_tensor* tensor) { delete tensor; }

HONE_API hone_status hone_tensor_dtype(const hone_tensor* tensor, hone_dtype* out) {
    return guarded([&] {
        const auto type = view_of(tensor, "hone_tensor_dtype").type();
        *require(out, "hone_tensor_dtype", "out") = static_cast<hone_dtype>(type);
    });
}

HONE_API hone_status hone_tensor_rank(const hone_tensor* tensor, size_t* out) {
    return guarded([&] {
        const auto rank = view_of(tensor, "hone_tensor_rank").rank();
        *require(out, "hone_tensor_rank", "out") = rank;
    });
}

HONE_API hone_status hone_tensor_shape(const hone_tensor* tensor, int64_t* dims, size_t capacity) {
    return guarded([&] { copy_dims(tensor, dims, capacity, false, "hone_tensor_shape"); });
}

HONE_API hone_status hone_tensor_strides(const hone_tensor* tensor, int64_t* strides,
                                         size_t capacity) {
    return guarded([&] { copy_dims(tensor, strides, capacity, true, "hone_tensor_strides"); });
}

HONE_API hone_status hone_tensor_numel(const hone_tensor* tensor, int64_t* out) {
    return guarded([&] {
        const auto n = view_of(tensor, "hone_tensor_numel").numel();
        *require(out, "hone_tensor_numel", "out") = n;
    });
}

HONE_API hone_status hone_tensor_nbytes(const hone_tensor* tensor, size_t* out) {
    return guarded([&] {
        const auto& v = view_of(tensor, "hone_tensor_nbytes");
        require(out, "hone_tensor_nbytes", "out");
        if (v.numel() == 0 || hone::is_packed(v.type())) {
            *out = hone::storage_bytes(v.type(), v.numel());
            return;
        }
        std::int64_t last = 0;
        for (std::size_t i = 0; i < v.rank(); ++i)
            last += (v.dims()[i] - 1) * v.stride(i);
        *out = static_cast<std::size_t>(last + 1) * hone::size_of(v.type());
    });
}

HONE_API hone_status hone_tensor_data(hone_tensor* tensor, void** out) {
    return guarded([&] {
        void* data = view_of(tensor, "hone_tensor_data").data();
        *require(out, "hone_tensor_data", "out") = data;
    });
}

HONE_API hone_status hone_tensor_is_owner(const hone_tensor* tensor, int* out) {
    return guarded([&] {
        const bool owner = require(tensor, "hone_tensor_is_owner", "tensor")->owned.has_value();
        *require(out, "hone_tensor_is_owner", "out") = owner ? 1 : 0;
    });
}

HONE_API hone_status hone_tensor_copy(const hone_tensor* src, hone_tensor* dst) {
    return guarded([&] {
        const auto& from = view_of(src, "hone_tensor_copy");
        const auto& to = require(dst, "hone_tensor_copy", "dst")->view;
        hone::capi::named("hone_tensor_copy", [&] { hone::kernels::convert(from, to); });
    });
}

} // extern "C"
