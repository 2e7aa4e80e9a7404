// hone/core/tensor.hpp — owning tensors and non-owning strided views.
//
// tensor: owns a zero-initialised, 64-byte-aligned buffer; contiguous, row-major; move-only
// (copy explicitly with clone()).
// tensor_view / const_tensor_view: borrow someone else's memory with element strides ≥ 0 (a
// stride of 0 broadcasts). Views of packed types (i4/u4) must be contiguous. make_view()
// checks that every element the view can reach lies inside the buffer and that the pointer is
// aligned for the element type, so a view can never read out of bounds.
#pragma once

#include "hone/core/export.hpp"

#include "hone/core/dtype.hpp"
#include "hone/core/error.hpp"
#include "hone/core/shape.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>

namespace hone {

using strides_array = std::array<std::int64_t, shape::max_rank>;

template <bool IsConst> class HONE_EXPORT basic_tensor_view {
public:
    using byte_pointer = std::conditional_t<IsConst, const std::byte*, std::byte*>;
    using void_pointer = std::conditional_t<IsConst, const void*, void*>;

    basic_tensor_view() noexcept = default;
    /// Unchecked constructor for internal use: callers guarantee bounds. Prefer make_view().
    basic_tensor_view(void_pointer data, hone::dtype type, hone::shape dims,
                      const strides_array& strides) noexcept
        : data_(static_cast<byte_pointer>(data)), dtype_(type), shape_(dims), strides_(strides) {}
    /// A const view of a mutable one.
    template <bool C = IsConst, class = std::enable_if_t<C>>
    basic_tensor_view(const basic_tensor_view<false>& v) noexcept
        : data_(v.bytes()), dtype_(v.type()), shape_(v.dims()), strides_(v.strides()) {}

    byte_pointer bytes() const noexcept { return data_; }
    void_pointer data() const noexcept { return data_; }
    hone::dtype type() const noexcept { return dtype_; }
    const hone::shape& dims() const noexcept { return shape_; }
    std::size_t rank() const noexcept { return shape_.rank(); }
    std::int64_t numel() const noexcept { return shape_.numel(); }
    const strides_array& strides() const noexcept { return strides_; }
    std::int64_t stride(std::size_t axis) const noexcept { return strides_[axis]; }
    bool is_contiguous() const noexcept;

    /// Typed contiguous span; throws dtype_mismatch if T is not the element type and
    /// invalid_argument if the view is not contiguous.
    template <class T> std::span<std::conditional_t<IsConst, const T, T>> span() const {
        static_assert(has_dtype<T>, "span<T>: T is not the element type of any hone dtype");
        check_typed(dtype_of<T>, true);
        return {reinterpret_cast<std::conditional_t<IsConst, const T*, T*>>(data_),
                static_cast<std::size_t>(numel())};
    }

    /// Element at a multi-index; checks the type, the rank and every index.
    template <class T>
    std::conditional_t<IsConst, const T&, T&> at(std::initializer_list<std::int64_t> index) const {
        static_assert(has_dtype<T>, "at<T>: T is not the element type of any hone dtype");
        check_typed(dtype_of<T>, false);
        return *reinterpret_cast<std::conditional_t<IsConst, const T*, T*>>(
            data_ + offset_of(std::span<const std::int64_t>(index.begin(), index.size())) *
                        static_cast<std::int64_t>(sizeof(T)));
    }

    /// Element offset (in elements) of a multi-index; throws out_of_range when outside.
    std::int64_t offset_of(std::span<const std::int64_t> index) const;

    /// The sub-view [begin, end) along `axis`; throws out_of_range when outside the view.
    basic_tensor_view slice(std::size_t axis, std::int64_t begin, std::int64_t end) const;

private:
    void check_typed(hone::dtype wanted, bool need_contiguous) const;

    byte_pointer data_ = nullptr;
    hone::dtype dtype_ = hone::dtype::f32;
    hone::shape shape_{};
    strides_array strides_{};
};

using tensor_view = basic_tensor_view<false>;
using const_tensor_view = basic_tensor_view<true>;

extern template class basic_tensor_view<false>;
extern template class basic_tensor_view<true>;

/// A checked view of `data` (`bytes` long). `strides` in elements; empty = contiguous.
/// Throws: invalid_argument (null data for a non-empty view, stride count ≠ rank, negative
/// stride, strided packed type, misaligned pointer), out_of_range (view reaches past `bytes`).
HONE_EXPORT tensor_view make_view(void* data, std::size_t bytes, dtype type, const shape& dims,
                                  std::span<const std::int64_t> strides = {});
HONE_EXPORT const_tensor_view make_view(const void* data, std::size_t bytes, dtype type,
                                        const shape& dims,
                                        std::span<const std::int64_t> strides = {});

class HONE_EXPORT tensor {
public:
    static constexpr std::size_t alignment = 64;

    /// An empty f32 tensor of shape [0].
    tensor();
    /// A zero-filled tensor. Throws out_of_memory when the allocation fails.
    tensor(dtype type, const shape& dims);

    tensor(tensor&&) noexcept = default;
    tensor& operator=(tensor&&) noexcept = default;
    tensor(const tensor&) = delete;
    tensor& operator=(const tensor&) = delete;

    /// A deep copy.
    tensor clone() const;
    /// A contiguous copy of any view (strides are gathered).
    static tensor copy_of(const_tensor_view src);

    hone::dtype type() const noexcept { return dtype_; }
    const hone::shape& dims() const noexcept { return shape_; }
    std::int64_t numel() const noexcept { return shape_.numel(); }
    std::size_t nbytes() const noexcept { return nbytes_; }
    void* data() noexcept { return data_.get(); }
    const void* data() const noexcept { return data_.get(); }

    tensor_view view() noexcept;
    const_tensor_view view() const noexcept;
    operator tensor_view() noexcept { return view(); }
    operator const_tensor_view() const noexcept { return view(); }

    template <class T> std::span<T> span() { return view().template span<T>(); }
    template <class T> std::span<const T> span() const { return view().template span<T>(); }

private:
    struct free_deleter {
        void operator()(void* p) const noexcept;
    };
    hone::dtype dtype_ = hone::dtype::f32;
    hone::shape shape_{};
    std::size_t nbytes_ = 0;
    std::unique_ptr<std::byte, free_deleter> data_;
};

/// Copies src into dst elementwise (shapes must match); converts between f32, f16 and bf16
/// exactly as hone/core/half.hpp specifies; other dtypes must match exactly. Strided views are
/// fine; dst must not overlap src. Throws shape_mismatch / dtype_mismatch / unsupported.
HONE_EXPORT void copy(const_tensor_view src, tensor_view dst);

} // namespace hone
