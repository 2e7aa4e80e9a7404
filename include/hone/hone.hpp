// hone/hone.hpp — the C++ API, all of it. Include the parts you use for faster builds.
#pragma once

#include "hone/core/dtype.hpp"
#include "hone/core/error.hpp"
#include "hone/core/half.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"
#include "hone/core/threads.hpp"
#include "hone/core/version.hpp"
