// Trust stores: the grammar, roles per tier, and errors that name the line and the field.
#include "hone/core/error.hpp"
#include "hone/ledger/trust_store.hpp"

#include <doctest/doctest.h>
#include <string>

namespace {

const std::string key_a(64, 'a'), key_b = std::string(63, 'b') + "c", key_c(64, 'd');

std::string error_of(const std::string& text) {
    try {
        hone::trust_store::parse(text, "team.trust");
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::format_error);
        return e.what();
    }
    return "no error";
}

} // namespace

TEST_CASE("lines, comments, roles") {
    const auto store = hone::trust_store::parse("# the release team\n"
                                                "\n"
                                                "ci optimizer " +
                                                    key_a +
                                                    "\n"
                                                    "  ann\tapprover:high,approver:critical  " +
                                                    std::string(63, 'B') +
                                                    "C # ann's laptop\n"
                                                    "bo approver,optimizer " +
                                                    key_c,
                                                "team.trust");
    REQUIRE(store.entries().size() == 3);
    CHECK(store.source() == "team.trust");
    const auto* ann = store.find(key_b);
    REQUIRE(ann != nullptr);
    CHECK(ann->holder == "ann");
    CHECK(ann->line == 4);
    CHECK(ann->public_key == key_b); // upper case read as lower case
    CHECK(store.find(std::string(64, 'e')) == nullptr);
    CHECK(store.may_optimize(key_a));
    CHECK_FALSE(store.may_optimize(key_b));
    CHECK(store.may_optimize(key_c));
    CHECK_FALSE(store.may_approve(key_a, hone::risk_tier::low));
    CHECK(store.may_approve(key_b, hone::risk_tier::high));
    CHECK(store.may_approve(key_b, hone::risk_tier::critical));
    CHECK_FALSE(store.may_approve(key_b, hone::risk_tier::low));
    CHECK_FALSE(store.may_approve(key_b, hone::risk_tier::medium));
    for (auto t : {hone::risk_tier::low, hone::risk_tier::medium, hone::risk_tier::high,
                   hone::risk_tier::critical})
        CHECK(store.may_approve(key_c, t)); // untiered approver
    CHECK(hone::trust_store::parse("# nothing\n\n").entries().empty());
}

TEST_CASE("errors name the source, the line and the field") {
    CHECK(error_of("ci optimizer\n") ==
          "team.trust line 1: expected 3 fields '<holder> <roles> <public key>', found 2");
    CHECK(error_of("\nci optimizer " + key_a + " extra") ==
          "team.trust line 2: expected 3 fields '<holder> <roles> <public key>', found 4");
    CHECK(error_of("ci optimiser " + key_a)
              .find("team.trust line 1, field 2 (roles): unknown role 'optimiser'") == 0);
    CHECK(error_of("ci approver:urgent " + key_a).find("unknown role 'approver:urgent'") !=
          std::string::npos);
    CHECK(error_of("ci approver: " + key_a).find("field 2 (roles): unknown role 'approver:'") !=
          std::string::npos);
    CHECK(error_of("ci optimizer,,approver " + key_a) ==
          "team.trust line 1, field 2 (roles): 'optimizer,,approver' is not a comma list of roles");
    CHECK(error_of("ci optimizer " + key_a.substr(1)) ==
          "team.trust line 1, field 3 (public key): '" + key_a.substr(1) +
              "' is not an Ed25519 public key (64 hex digits)");
    CHECK(error_of("ci optimizer " + std::string(63, 'a') + "g").find("field 3 (public key)") !=
          std::string::npos);
    // One key, one holder: the same key under a second name is refused.
    CHECK(error_of("ann approver " + key_a + "\n# x\nbob approver " + key_a) ==
          "team.trust line 3, field 3 (public key): this key is already listed for 'ann' on line "
          "1 (one key, one holder)");
    CHECK_THROWS_AS(hone::trust_store::load("/nonexistent/team.trust"), hone::error);
}
