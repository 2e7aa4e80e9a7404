#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;

TEST_CASE("write_file_atomic replaces whole files and leaves nothing behind on failure") {
    const fs::path dir = fs::temp_directory_path() / ("hone-atomic-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path file = dir / "model.bin";
    hone::write_file_atomic(file, "first");
    CHECK(hone::read_file(file) == "first");
    hone::write_file_atomic(file, std::string(100000, 'x'));
    CHECK(hone::read_file(file).size() == 100000);
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
    try {
        hone::write_file_atomic(dir / "no-such-folder" / "f.bin", "data");
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::io_error);
        CHECK(std::string(e.what()).find("no-such-folder") != std::string::npos);
    }
    CHECK(hone::read_file(file).size() == 100000);
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
    CHECK_THROWS_AS(hone::read_file(dir / "absent"), hone::error);
    fs::remove_all(dir);
}
