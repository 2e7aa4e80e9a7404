// hone/core/export.hpp — HONE_EXPORT marks the C++ API exported from the shared library
// (everything else is built with hidden visibility).
#pragma once

#if defined(_WIN32)
#if defined(HONE_BUILDING_LIBRARY)
#define HONE_EXPORT __declspec(dllexport)
#else
#define HONE_EXPORT __declspec(dllimport)
#endif
#else
#define HONE_EXPORT __attribute__((visibility("default")))
#endif
