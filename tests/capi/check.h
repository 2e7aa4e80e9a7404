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

#endif
