// Internal: the C handle behind hone_tensor, shared by the C ABI's translation units.
#pragma once

#include "guard.hpp"
#include "hone/core/tensor.hpp"
#include "hone/hone.h"

#include <optional>
#include <string>

// Either owns a hone::tensor or borrows the caller's memory through a view.
struct hone_tensor {
    std::optional<hone::tensor> owned;
    hone::tensor_view view;
};

namespace hone::capi {

/// A handle that owns `t`.
inline hone_tensor* make_owned_handle(hone::tensor t) {
    auto* h = new hone_tensor{std::move(t), {}};
    h->view = h->owned->view();
    return h;
}

/// A handle borrowing `v` (which must outlive it). Read-only use: the C ABI's callbacks get it
/// as `const hone_tensor*`.
inline hone_tensor borrowed_handle(hone::const_tensor_view v) {
    return hone_tensor{std::nullopt, hone::tensor_view(const_cast<void*>(v.data()), v.type(),
                                                       v.dims(), v.strides())};
}

/// The view behind a handle; throws invalid_argument naming `what` when the handle is NULL.
inline hone::tensor_view view_of(const hone_tensor* t, const char* function, const char* what) {
    return require(t, function, what)->view;
}

/// The caller's tensor an export copies `src` into: it must be contiguous and of src's dtype
/// and shape (errors name `function` and `what`).
inline hone::tensor_view export_target(const hone_tensor* dst, const hone::tensor& src,
                                       const char* function, const char* what) {
    const auto v = view_of(dst, function, what);
    if (v.type() != src.type())
        hone::fail(hone::status::dtype_mismatch, std::string(function) + ": " + what + " must be " +
                                                     std::string(hone::name_of(src.type())) +
                                                     ", got " +
                                                     std::string(hone::name_of(v.type())));
    if (v.dims() != src.dims())
        hone::fail(hone::status::shape_mismatch, std::string(function) + ": " + what + " must be " +
                                                     src.dims().to_string() + ", got " +
                                                     v.dims().to_string());
    if (!v.is_contiguous())
        hone::fail(hone::status::invalid_argument,
                   std::string(function) + ": " + what + " must be contiguous");
    return v;
}

} // namespace hone::capi
