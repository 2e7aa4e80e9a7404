/* A tiny C99 program against an installed hone: version check, a tensor, an f32 → bf16 copy. */
#include <hone/hone.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    if (hone_abi_version() != HONE_ABI_VERSION) {
        fprintf(stderr, "ABI %d loaded, header says %d\n", hone_abi_version(), HONE_ABI_VERSION);
        return 1;
    }
    float values[4] = {1.0f, -2.5f, 3.140625f, 65504.0f};
    const int64_t dims[2] = {2, 2};
    hone_tensor_params params;
    hone_tensor_params_init(&params);
    params.rank = 2;
    params.dims = dims;
    hone_tensor* src = NULL;
    hone_tensor* dst = NULL;
    hone_status st = hone_tensor_wrap(&params, values, sizeof values, &src);
    if (st == HONE_OK) {
        params.dtype = HONE_DTYPE_BF16;
        st = hone_tensor_create(&params, &dst);
    }
    if (st == HONE_OK) st = hone_tensor_copy(src, dst);
    if (st != HONE_OK) {
        fprintf(stderr, "%s: %s\n", hone_status_string(st), hone_last_error());
        return 1;
    }
    void* data = NULL;
    hone_tensor_data(dst, &data);
    uint16_t bits[4];
    memcpy(bits, data, sizeof bits);
    printf("hone %s (C): bf16 bits %04x %04x %04x %04x\n", hone_version(), bits[0], bits[1],
           bits[2], bits[3]);
    hone_tensor_destroy(dst);
    hone_tensor_destroy(src);
    /* 1.0 → 3f80, -2.5 → c020, 3.140625 → 4049, 65504 → 4780 (rounded up) */
    return (bits[0] == 0x3f80 && bits[1] == 0xc020 && bits[2] == 0x4049 && bits[3] == 0x4780) ? 0
                                                                                              : 1;
}
