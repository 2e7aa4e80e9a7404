/* The C ABI tests' check: reports the failing condition with hone_last_error() and counts it;
 * main() returns failures ? 1 : 0. */
#ifndef HONE_TEST_CAPI_CHECK_H
#define HONE_TEST_CAPI_CHECK_H

#include <hone/hone.h>

#include <stdio.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__,       \
                    #cond, hone_last_error());                                                     \
            ++failures;                                                                            \
        }                                                                                          \
    } while (0)

/* The call fails with `status` and the message contains `needle`. */
#define CHECK_FAILS(call, status, needle)                                                          \
    do {                                                                                           \
        hone_status st_ = (call);                                                                  \
        CHECK(st_ == (status));                                                                    \
        CHECK(strstr(hone_last_error(), (needle)) != NULL);                                        \
    } while (0)

/* hone_tensor_params for a contiguous tensor of `dims`. */
static inline hone_tensor_params tensor_params(hone_dtype dtype, size_t rank, const int64_t* dims) {
    hone_tensor_params p;
    hone_tensor_params_init(&p);
    p.dtype = dtype;
    p.rank = rank;
    p.dims = dims;
    return p;
}

/* A tensor over the caller's buffer (checked; NULL on failure). */
static inline hone_tensor* wrap_tensor(hone_dtype dtype, size_t rank, const int64_t* dims,
                                       void* data, size_t bytes) {
    const hone_tensor_params p = tensor_params(dtype, rank, dims);
    hone_tensor* t = NULL;
    CHECK(hone_tensor_wrap(&p, data, bytes, &t) == HONE_OK);
    return t;
}

/* A new zero-filled tensor owned by hone (checked; NULL on failure). */
static inline hone_tensor* create_tensor(hone_dtype dtype, size_t rank, const int64_t* dims) {
    const hone_tensor_params p = tensor_params(dtype, rank, dims);
    hone_tensor* t = NULL;
    CHECK(hone_tensor_create(&p, &t) == HONE_OK);
    return t;
}

/* The tensor's element buffer (checked). */
static inline void* tensor_data(hone_tensor* t) {
    void* d = NULL;
    CHECK(hone_tensor_data(t, &d) == HONE_OK);
    return d;
}

#endif
