# cmake --install: headers, the library, honeConfig.cmake (+ version file) and hone.pc.
include(CMakePackageConfigHelpers)

# hone_mpi (hone/mpi/mpi_process_group.hpp) when MPI was found: hone::hone_mpi.
set(hone_installed_libraries hone)
set(hone_skipped_headers "")
if(TARGET hone_mpi)
  list(APPEND hone_installed_libraries hone_mpi)
else()
  set(hone_skipped_headers PATTERN mpi EXCLUDE)
endif()
install(TARGETS ${hone_installed_libraries} EXPORT honeTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/hone DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp" ${hone_skipped_headers})

set(HONE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/hone)
install(EXPORT honeTargets NAMESPACE hone:: DESTINATION ${HONE_CMAKE_DIR})
configure_package_config_file(cmake/honeConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/honeConfig.cmake INSTALL_DESTINATION ${HONE_CMAKE_DIR})
# Same major version = same ABI (the SOVERSION is tied to it while the major is 0 via HONE_ABI_VERSION).
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/honeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/honeConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/honeConfigVersion.cmake
        DESTINATION ${HONE_CMAKE_DIR})

# hone.pc is relocatable: its prefix is found from where the file lies (pkg-config's pcfiledir).
file(RELATIVE_PATH HONE_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(cmake/hone.pc.in ${CMAKE_CURRENT_BINARY_DIR}/hone.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/hone.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
