#include "hone/core/error.hpp"
#include "hone/validate/representativeness.hpp"

#include <cmath>
#include <doctest/doctest.h>
#include <random>

TEST_CASE("a shifted activation is flagged by name; a matching one is not") {
    std::mt19937 rng(3);
    std::normal_distribution<float> n01(0, 1), wide(0, 3);
    std::map<std::string, std::vector<float>> calib, eval;
    for (int i = 0; i < 5000; ++i) {
        calib["fc1.relu"].push_back(std::max(0.0f, n01(rng)));
        eval["fc1.relu"].push_back(std::max(0.0f, n01(rng)));
        calib["fc2"].push_back(n01(rng));
        eval["fc2"].push_back(wide(rng)); // the evaluation data's range is 3× wider
    }
    const auto r = hone::check_representativeness(calib, eval);
    REQUIRE(r.tensors.size() == 2);
    CHECK(r.tensors[0].name == "fc1.relu");
    CHECK_FALSE(r.tensors[0].shifted);
    CHECK(r.tensors[0].psi < 0.05);
    CHECK(r.tensors[1].shifted);
    CHECK_FALSE(r.representative);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].find("'fc2'") == 0);
}

TEST_CASE("representativeness: mismatched or bad samples are errors naming the tensor") {
    std::map<std::string, std::vector<float>> a{{"x", {1, 2, 3}}}, b{{"y", {1, 2, 3}}};
    CHECK_THROWS_WITH_AS(hone::check_representativeness(a, b), doctest::Contains("'y'"),
                         hone::error);
    std::map<std::string, std::vector<float>> c{{"x", {}}};
    CHECK_THROWS_WITH_AS(hone::check_representativeness(a, c), doctest::Contains("of 'x'"),
                         hone::error);
}
