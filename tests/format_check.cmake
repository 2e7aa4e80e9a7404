# Fails when a C/C++ source of the tree differs from what clang-format makes of it.
file(GLOB_RECURSE sources
  ${SOURCE_DIR}/include/*.h ${SOURCE_DIR}/include/*.hpp
  ${SOURCE_DIR}/src/*.h ${SOURCE_DIR}/src/*.hpp ${SOURCE_DIR}/src/*.cpp
  ${SOURCE_DIR}/tests/*.c ${SOURCE_DIR}/tests/*.cpp ${SOURCE_DIR}/tests/*.hpp
  ${SOURCE_DIR}/benchmarks/*.cpp ${SOURCE_DIR}/examples/*.c ${SOURCE_DIR}/examples/*.cpp
  ${SOURCE_DIR}/bindings/*.c ${SOURCE_DIR}/bindings/*.cpp)
# Not the npm packages the tests install (node-llama-cpp ships its addon's C++ sources).
list(FILTER sources EXCLUDE REGEX "/node_modules/")
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${sources}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "clang-format: the tree is not formatted (run scripts/format.sh):\n${err}")
endif()
list(LENGTH sources n)
message(STATUS "clang-format: ${n} files formatted")
