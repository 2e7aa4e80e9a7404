// Test helper: the hone::status a call ends with (ok when it does not throw), its message
// logged to the test output and optionally returned.
#pragma once

#include <hone/core/error.hpp>

#include <doctest/doctest.h>

#include <string>

template <class Fn> hone::status status_of(Fn&& fn, std::string* message = nullptr) {
    try {
        fn();
    } catch (const hone::error& e) {
        MESSAGE(std::string(e.what()));
        if (message) *message = e.what();
        return e.code();
    }
    return hone::status::ok;
}
