// Fuzzes the C ABI's untrusted tensor description: dtype, rank, dims, strides and buffer size
// go to hone_tensor_wrap; an accepted view is then read in full (hone_tensor_copy into an owned
// tensor), so ASan catches any view that was accepted but reaches outside its buffer.
#include <hone/hone.h>

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    hone_tensor_params params;
    hone_tensor_params_init(&params);
    params.dtype = static_cast<hone_dtype>(data[0] % 12); // includes invalid values
    params.rank = data[1] % 10;                           // includes rank > HONE_MAX_RANK
    const bool strided = data[2] & 1;
    const std::size_t buffer_bytes = data[2] >> 1; // 0…127 bytes
    data += 3;
    size -= 3;
    std::int64_t dims[10] = {}, strides[10] = {};
    for (std::size_t i = 0; i < params.rank; ++i) {
        if (size < 2) return 0;
        dims[i] = static_cast<std::int8_t>(data[0]); // small, sometimes negative
        strides[i] = static_cast<std::int8_t>(data[1]);
        data += 2;
        size -= 2;
    }
    if (size >= 8 && params.rank > 0) std::memcpy(&dims[0], data, 8); // sometimes huge
    params.dims = dims;
    params.strides = strided ? strides : nullptr;

    std::vector<std::uint64_t> storage(buffer_bytes / 8 + 1); // 8-byte aligned
    hone_tensor* view = nullptr;
    if (hone_tensor_wrap(&params, storage.data(), buffer_bytes, &view) != HONE_OK) return 0;
    std::int64_t numel = 0;
    hone_tensor_numel(view, &numel);
    hone_tensor_params owned = params;
    owned.strides = nullptr;
    hone_tensor* copy = nullptr;
    if (numel <= (1 << 16) && hone_tensor_create(&owned, &copy) == HONE_OK) {
        if (hone_tensor_copy(view, copy) != HONE_OK) __builtin_trap(); // same shape and dtype
    }
    hone_tensor_destroy(copy);
    hone_tensor_destroy(view);
    return 0;
}
