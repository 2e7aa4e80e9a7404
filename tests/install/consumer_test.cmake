# Installs hone from HONE_BUILD_DIR into WORK_DIR/prefix, then configures and builds
# examples/consumer against the installed tree only (find_package and pkg-config), and runs it.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${HONE_BUILD_DIR} --prefix ${prefix})
set(flags "")
set(link_flags "")
if(SANITIZE)
  set(flags "-fsanitize=${SANITIZE}")
  # clang links a C program without the C++ parts of the sanitizer runtimes libhone needs.
  if(C_COMPILER MATCHES "clang")
    set(link_flags -fsanitize-link-c++-runtime -lstdc++)
  endif()
endif()
string(JOIN " " link_flags_text ${link_flags})
run(${CMAKE_COMMAND} -S ${HONE_SOURCE_DIR}/examples/consumer -B ${WORK_DIR}/build
    -G ${CMAKE_GENERATOR} -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    "-DCMAKE_C_FLAGS=${flags}" "-DCMAKE_CXX_FLAGS=${flags}"
    "-DCMAKE_EXE_LINKER_FLAGS=${link_flags_text}"
    -DHONE_EXPECTED_VERSION_FROM=${HONE_SOURCE_DIR}/include/hone/hone.h)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer_c)
run(${WORK_DIR}/build/consumer_cpp)

# pkg-config: compile and run the C program with the flags hone.pc gives.
find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig:${prefix}/lib/x86_64-linux-gnu/pkgconfig)
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs hone OUTPUT_VARIABLE pc_flags
                  RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not find hone.pc under ${prefix}")
  endif()
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  run(${C_COMPILER} -std=c99 ${flags} ${HONE_SOURCE_DIR}/examples/consumer/consumer.c ${pc_flags}
      ${link_flags} -o ${WORK_DIR}/consumer_pkgconfig)
  file(GLOB libdirs LIST_DIRECTORIES true ${prefix}/lib ${prefix}/lib/*-linux-gnu)
  string(REPLACE ";" ":" ld_path "${libdirs}")
  run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${ld_path} ${WORK_DIR}/consumer_pkgconfig)
else()
  message(FATAL_ERROR "pkg-config is missing: scripts/setup.sh installs it")
endif()
