#include "hone/core/threads.hpp"

#include <cstdlib>
#include <doctest/doctest.h>

TEST_CASE("thread count: API call and HONE_NUM_THREADS") {
    CHECK(hone::num_threads() >= 1);
    CHECK(hone::set_num_threads(3) == 3);
    CHECK(hone::num_threads() == 3);
    ::setenv("HONE_NUM_THREADS", "5", 1);
    CHECK(hone::set_num_threads(0) == 5); // restoring the default re-reads the environment
    ::setenv("HONE_NUM_THREADS", "five", 1);
    CHECK(hone::set_num_threads(-1) >= 1); // an invalid value is ignored
    ::setenv("HONE_NUM_THREADS", "7x", 1);
    CHECK(hone::set_num_threads(0) != 7);
    ::unsetenv("HONE_NUM_THREADS");
}
