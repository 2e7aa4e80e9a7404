/* The SIMD tier through the C ABI. */
#include <hone/hone.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(void) {
    hone_isa active = (hone_isa)-1, best = (hone_isa)-1;
    CHECK(hone_get_isa(&active, &best) == HONE_OK);
    CHECK(best >= HONE_ISA_SCALAR && best <= HONE_ISA_AVX512);
    /* The start-up cap: HONE_MAX_ISA when set (CI runs the suite at each tier), else none. */
    hone_isa cap = HONE_ISA_AVX512;
    const char* env = getenv("HONE_MAX_ISA");
    if (env && strcmp(env, "scalar") == 0) cap = HONE_ISA_SCALAR;
    if (env && strcmp(env, "avx2") == 0) cap = HONE_ISA_AVX2;
    CHECK(active == (best < cap ? best : cap));
    CHECK(hone_set_max_isa(HONE_ISA_SCALAR) == HONE_OK);
    CHECK(hone_get_isa(&active, NULL) == HONE_OK && active == HONE_ISA_SCALAR);
    CHECK(hone_set_max_isa((hone_isa)7) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "7 is not a hone_isa") != NULL);
    CHECK(hone_get_isa(&active, NULL) == HONE_OK && active == HONE_ISA_SCALAR);
    CHECK(hone_set_max_isa(HONE_ISA_AVX512) == HONE_OK);
    CHECK(hone_get_isa(&active, NULL) == HONE_OK && active == best);
    CHECK(strcmp(hone_isa_name(HONE_ISA_AVX2), "avx2") == 0);
    CHECK(hone_isa_name((hone_isa)3) == NULL);
    if (failures == 0) printf("C ABI isa: all checks passed (best tier %s)\n", hone_isa_name(best));
    return failures ? 1 : 0;
}
