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

/* Gets a string through hone's one string rule (hone.h, Conventions, "Strings") and checks the
 * rule on the way: `call(args..., buffer, capacity, needed)` with
 *  - buffer NULL, capacity 0: HONE_ERROR_OUT_OF_RANGE, *needed = the size with the NUL (>= 1);
 *  - a buffer one byte too small: HONE_ERROR_OUT_OF_RANGE naming the function, *needed set
 *    again, not a byte of the buffer written;
 *  - a buffer of exactly *needed bytes (needed NULL): HONE_OK, the text with its NUL at
 *    *needed - 1 and nothing written after it.
 * `out` is a char array (larger than the text) that receives the text. */
#define CHECK_STRING(out, call, ...)                                                               \
    do {                                                                                           \
        size_t need_ = 0, again_ = 0, i_;                                                          \
        int untouched_ = 1;                                                                        \
        CHECK(call(__VA_ARGS__, NULL, 0, &need_) == HONE_ERROR_OUT_OF_RANGE);                      \
        CHECK(need_ >= 1 && need_ < sizeof(out));                                                  \
        if (need_ >= 1 && need_ < sizeof(out)) {                                                   \
            memset((out), '#', sizeof(out));                                                       \
            CHECK(call(__VA_ARGS__, (out), need_ - 1, &again_) == HONE_ERROR_OUT_OF_RANGE);        \
            CHECK(strstr(hone_last_error(), #call) != NULL);                                       \
            CHECK(again_ == need_);                                                                \
            for (i_ = 0; i_ < sizeof(out); ++i_)                                                   \
                untouched_ &= (out)[i_] == '#';                                                    \
            CHECK(untouched_);                                                                     \
            CHECK(call(__VA_ARGS__, (out), need_, NULL) == HONE_OK);                               \
            CHECK((out)[need_ - 1] == '\0' && strlen(out) == need_ - 1 && (out)[need_] == '#');    \
        }                                                                                          \
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
