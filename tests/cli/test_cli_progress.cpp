// Progress bars: the rendered line, durations, drawing only on request.
#include "progress.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

TEST_CASE("the progress line") {
    using hone::cli::render_progress;
    CHECK(render_progress("calibrate", 512, 1024, 2.0, 10) ==
          "calibrate  [#####.....]  512/1024   50%  256.0/s  ETA 2.0s");
    CHECK(render_progress("eval", 0, 100, 0.0, 4) == "eval  [....]  0/100    0%  -/s  ETA ?");
    CHECK(render_progress("eval", 100, 100, 4.0, 4) ==
          "eval  [####]  100/100  100%  25.0/s  in 4.0s");
    CHECK(render_progress("eval", 150, 100, 4.0, 4).find("100/100") != std::string::npos);
    CHECK(render_progress("layers", 3, 0, 1.5) == "layers  3  2.0/s  1.5s");
}

TEST_CASE("durations") {
    CHECK(hone::cli::format_duration(3.24) == "3.2s");
    CHECK(hone::cli::format_duration(65) == "1m05s");
    CHECK(hone::cli::format_duration(7380) == "2h03m");
    CHECK(hone::cli::format_duration(-1) == "?");
}

TEST_CASE("drawn only to a terminal or when forced; silent when quiet") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f);
    CHECK_FALSE(hone::cli::is_terminal(f));
    {
        hone::cli::progress p("quiet", 10, {.quiet = true, .stream = f, .force = true});
        CHECK_FALSE(p.active());
        p.advance(10);
    }
    {
        hone::cli::progress p("not a tty", 10, {.stream = f});
        CHECK_FALSE(p.active());
        p.advance(5);
    }
    CHECK(std::ftell(f) == 0);
    {
        hone::cli::progress p("forced", 4, {.stream = f, .force = true, .width = 4});
        CHECK(p.active());
        auto cb = p.callback();
        cb(2, 4);
        cb(4, 4);
        CHECK(p.done() == 4);
        p.finish();
    }
    std::rewind(f);
    char buffer[512] = {};
    const std::size_t n = std::fread(buffer, 1, sizeof buffer - 1, f);
    const std::string text(buffer, n);
    CHECK(text.find("\rforced  [....]  0/4") == 0);
    CHECK(text.find("4/4  100%") != std::string::npos);
    CHECK(text.back() == '\n');
    std::fclose(f);
}
