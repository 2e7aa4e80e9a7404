# Warnings and sanitizers shared by every hone target: call hone_target_options(<target>).
function(hone_target_options target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wpedantic>)
endfunction()

if(HONE_SANITIZE)
  add_compile_options(-fsanitize=${HONE_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${HONE_SANITIZE})
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # Reports need file:line, not full debug info (which makes these builds much slower).
    add_compile_options(-gline-tables-only)
    # C programs (tests/capi) link libhone, whose C++ needs the C++ parts of the runtimes.
    add_link_options("$<$<LINK_LANGUAGE:C>:-fsanitize-link-c++-runtime;-lstdc++>")
  endif()
endif()

if(HONE_BUILD_FUZZERS)
  # Coverage instrumentation for the library too, so libFuzzer sees inside hone.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
