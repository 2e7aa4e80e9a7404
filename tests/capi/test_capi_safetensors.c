/* Drives the safetensors functions of the C ABI from C99, against hone.h alone: save, open
 * (file and memory), names, tensors, metadata, and the error paths. */
#include <hone/hone.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char* slurp(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    char* data;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = (char*)malloc((size_t)n + 1);
    *size = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

int main(void) {
    char path[256];
    const int64_t wdims[2] = {2, 3};
    const int64_t bdims[1] = {3};
    hone_tensor* w = create_tensor(HONE_DTYPE_F32, 2, wdims);
    hone_tensor* b = create_tensor(HONE_DTYPE_I64, 1, bdims);
    const char* names[2] = {"fc.weight", "fc.bias"};
    const hone_tensor* tensors[2];
    const char* keys[2] = {"format", "hone.layout"};
    const char* vals[2] = {"pt", "{\"bits\":8}"};
    hone_safetensors* file = NULL;
    hone_tensor* got = NULL;
    char text[64];
    size_t n = 0, i;
    float* wp = NULL;
    int64_t* bp = NULL;
    void* data = NULL;
    int64_t dims[8];
    hone_dtype dtype;
    char* bytes;
    size_t size = 0;

    snprintf(path, sizeof path, "/tmp/hone_test_capi_safetensors_%d.safetensors", (int)getpid());
    tensors[0] = w;
    tensors[1] = b;
    CHECK(hone_tensor_data(w, (void**)&wp) == HONE_OK);
    CHECK(hone_tensor_data(b, (void**)&bp) == HONE_OK);
    for (i = 0; i < 6; ++i)
        wp[i] = (float)i * 0.5f - 1.0f;
    for (i = 0; i < 3; ++i)
        bp[i] = (int64_t)i - 1;

    CHECK(hone_safetensors_save(path, 2, names, tensors, 2, keys, vals) == HONE_OK);
    CHECK(hone_safetensors_open(path, &file) == HONE_OK);
    CHECK(hone_safetensors_count(file, &n) == HONE_OK && n == 2);
    /* Both 8-byte-aligned tensors come first by element size: i64 (8) then f32 (4). */
    CHECK_STRING(text, hone_safetensors_name, file, 0);
    CHECK(strcmp(text, "fc.bias") == 0);
    CHECK_STRING(text, hone_safetensors_name, file, 1);
    CHECK(strcmp(text, "fc.weight") == 0);
    CHECK_FAILS(hone_safetensors_name(file, 2, text, sizeof text, NULL), HONE_ERROR_OUT_OF_RANGE,
                "index 2");

    CHECK(hone_safetensors_get(file, "fc.weight", &got) == HONE_OK);
    CHECK(hone_tensor_dtype(got, &dtype) == HONE_OK && dtype == HONE_DTYPE_F32);
    CHECK(hone_tensor_shape(got, dims, 8) == HONE_OK && dims[0] == 2 && dims[1] == 3);
    CHECK(hone_tensor_data(got, &data) == HONE_OK && memcmp(data, wp, 6 * sizeof(float)) == 0);
    hone_tensor_destroy(got);
    got = NULL;
    CHECK(hone_safetensors_get(file, "fc.bias", &got) == HONE_OK);
    CHECK(hone_tensor_data(got, &data) == HONE_OK && memcmp(data, bp, 3 * sizeof(int64_t)) == 0);
    hone_tensor_destroy(got);
    got = NULL;
    CHECK_FAILS(hone_safetensors_get(file, "nope", &got), HONE_ERROR_NOT_FOUND, "'nope'");
    CHECK(got == NULL);

    CHECK(hone_safetensors_metadata_count(file, &n) == HONE_OK && n == 2);
    CHECK_STRING(text, hone_safetensors_metadata_key, file, 0);
    CHECK(strcmp(text, "format") == 0);
    CHECK_STRING(text, hone_safetensors_metadata_key, file, 1);
    CHECK(strcmp(text, "hone.layout") == 0);
    CHECK_STRING(text, hone_safetensors_metadata_get, file, "hone.layout");
    CHECK(strcmp(text, "{\"bits\":8}") == 0);
    CHECK_STRING(text, hone_safetensors_metadata_get, file, "format");
    CHECK(strcmp(text, "pt") == 0);
    {
        size_t needed = 99;
        CHECK_FAILS(hone_safetensors_metadata_get(file, "absent", text, sizeof text, &needed),
                    HONE_ERROR_NOT_FOUND, "absent");
        CHECK(needed == 99); /* only a too small buffer sets it on failure */
    }
    CHECK_FAILS(hone_safetensors_metadata_key(file, 5, text, sizeof text, NULL),
                HONE_ERROR_OUT_OF_RANGE, "index 5");
    hone_safetensors_destroy(file);
    file = NULL;

    /* The same bytes from memory; then a corrupted copy is refused with the field named. */
    bytes = slurp(path, &size);
    CHECK(bytes != NULL && size > 8);
    CHECK(hone_safetensors_open_memory(bytes, size, &file) == HONE_OK);
    CHECK(hone_safetensors_count(file, &n) == HONE_OK && n == 2);
    hone_safetensors_destroy(file);
    file = NULL;
    CHECK_FAILS(hone_safetensors_open_memory(bytes, size - 1, &file), HONE_ERROR_FORMAT,
                "data_offsets");
    bytes[0] = (char)0xff; /* header size far beyond the buffer */
    CHECK_FAILS(hone_safetensors_open_memory(bytes, size, &file), HONE_ERROR_FORMAT, "header size");
    CHECK(file == NULL);
    CHECK_FAILS(hone_safetensors_open_memory(bytes, 3, &file), HONE_ERROR_FORMAT, "8-byte");
    free(bytes);

    /* Argument errors. */
    CHECK_FAILS(hone_safetensors_open(NULL, &file), HONE_ERROR_INVALID_ARGUMENT, "'path'");
    CHECK_FAILS(hone_safetensors_open("/nonexistent/x.safetensors", &file), HONE_ERROR_IO,
                "x.safetensors");
    CHECK_FAILS(hone_safetensors_open_memory(NULL, 10, &file), HONE_ERROR_INVALID_ARGUMENT,
                "'data'");
    CHECK_FAILS(hone_safetensors_count(NULL, &n), HONE_ERROR_INVALID_ARGUMENT, "'file'");
    CHECK_FAILS(hone_safetensors_save(path, 2, NULL, tensors, 0, NULL, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "'names'");
    names[1] = "fc.weight";
    CHECK_FAILS(hone_safetensors_save(path, 2, names, tensors, 0, NULL, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "given twice");
    keys[1] = "format";
    CHECK_FAILS(hone_safetensors_save(path, 1, names, tensors, 2, keys, vals),
                HONE_ERROR_INVALID_ARGUMENT, "given twice");
    hone_safetensors_destroy(NULL);

    hone_tensor_destroy(w);
    hone_tensor_destroy(b);
    remove(path);
    return failures ? 1 : 0;
}
