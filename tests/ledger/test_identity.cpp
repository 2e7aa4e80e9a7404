#include "hone/core/error.hpp"
#include "hone/io/digest.hpp"
#include "hone/ledger/identity.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {
fs::path scratch(const char* name) {
    const fs::path dir =
        fs::temp_directory_path() / ("hone-identity-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir / name;
}
} // namespace

TEST_CASE("SHA-256 known vectors") {
    CHECK(hone::sha256_hex("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hone::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const auto file = scratch("abc.bin");
    std::ofstream(file, std::ios::binary) << "abc";
    const auto ref = hone::hash_file(file);
    CHECK(ref.sha256 == hone::sha256_hex("abc"));
    CHECK(ref.bytes == 3);
    try {
        hone::hash_file(scratch("missing.bin"));
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::io_error);
        CHECK(std::string(e.what()).find("missing.bin") != std::string::npos);
    }
}

TEST_CASE("Ed25519: RFC 8032 test vector 1 verifies; altered inputs do not") {
    const std::string pub = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const std::string sig = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb882"
                            "1590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
    CHECK(hone::verify_signature(pub, "", sig));
    CHECK_FALSE(hone::verify_signature(pub, "x", sig));
    std::string bad_sig = sig;
    bad_sig[10] = bad_sig[10] == '0' ? '1' : '0';
    CHECK_FALSE(hone::verify_signature(pub, "", bad_sig));
    CHECK_FALSE(hone::verify_signature(pub.substr(2), "", sig));        // short key
    CHECK_FALSE(hone::verify_signature("zz" + pub.substr(2), "", sig)); // not hex
}

TEST_CASE("signing keys: sign, verify, PEM round trip, bad files") {
    const auto key = hone::signing_key::generate();
    const auto other = hone::signing_key::generate();
    CHECK(key.public_key_hex().size() == 64);
    CHECK(key.public_key_hex() != other.public_key_hex());
    const auto sig = key.sign("record bytes");
    CHECK(sig.size() == 128);
    CHECK(hone::verify_signature(key.public_key_hex(), "record bytes", sig));
    CHECK_FALSE(hone::verify_signature(other.public_key_hex(), "record bytes", sig));

    const auto pem = scratch("key.pem");
    key.save_pem(pem);
    CHECK((fs::status(pem).permissions() & fs::perms::group_read) == fs::perms::none);
    const auto loaded = hone::signing_key::load_pem(pem);
    CHECK(loaded.public_key_hex() == key.public_key_hex());
    CHECK(hone::verify_signature(key.public_key_hex(), "m", loaded.sign("m")));

    const auto junk = scratch("junk.pem");
    std::ofstream(junk) << "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n";
    try {
        hone::signing_key::load_pem(junk);
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::format_error);
        CHECK(std::string(e.what()).find("junk.pem") != std::string::npos);
    }
    try {
        hone::signing_key::load_pem(scratch("absent.pem"));
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::io_error);
    }
}
