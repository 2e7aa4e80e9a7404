// The C handle of a trust store (shared by ledger.cpp and load_check.cpp).
#pragma once

#include "hone/ledger/trust_store.hpp"

struct hone_trust_store {
    hone::trust_store store;
};
