# Install rules for tether: libraries, header, pkg-config file and CMake
# package config. Included at the end of the top-level CMakeLists.txt.
#
#   cmake --install build [--prefix DIR]
#
# installs
#   <libdir>/libtether.a                     (target tether,        tether::tether)
#   <libdir>/libtether.so{,.0,.0.1.0}        (target tether_shared, tether::tether_shared)
#   <includedir>/tether.h
#   <bindir>/tether-leaks                    (the goroutine-dump analyzer)
#   <libdir>/pkgconfig/tether.pc             (pkg-config --cflags --libs tether)
#   <libdir>/cmake/tether/tetherConfig.cmake, tetherConfigVersion.cmake,
#   tetherTargets*.cmake                     (find_package(tether CONFIG))
#
# Components: Runtime (the shared object and its soname link) and Development
# (everything else), e.g. cmake --install build --component Runtime.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Install rules are on by default for the top-level project and off when tether
# is pulled into another build with add_subdirectory() / FetchContent.
if(CMAKE_SOURCE_DIR STREQUAL PROJECT_SOURCE_DIR)
  set(_tt_install_default ON)
else()
  set(_tt_install_default OFF)
endif()
option(TT_INSTALL "Generate install rules for tether" ${_tt_install_default})
unset(_tt_install_default)

# Namespaced aliases, so that a parent project using add_subdirectory() can
# write the same tether::tether as a find_package() user.
if(NOT TARGET tether::tether)
  add_library(tether::tether ALIAS tether)
  add_library(tether::tether_shared ALIAS tether_shared)
endif()

if(NOT TT_INSTALL)
  return()
endif()

set(TT_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/tether"
  CACHE STRING "Where tetherConfig.cmake is installed, relative to the prefix")
set(TT_PKGCONFIG_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
  CACHE STRING "Where tether.pc is installed, relative to the prefix")

# ---- Libraries and header --------------------------------------------------

install(TARGETS tether tether_shared
  EXPORT tetherTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Development
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Runtime
    NAMELINK_COMPONENT Development
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT Runtime)

install(FILES "${PROJECT_SOURCE_DIR}/include/tether.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT Development)

# The goroutine-dump analyzer (tools/tether-leaks, docs/ANALYZER.md).
if(TARGET tether-leaks)
  install(TARGETS tether-leaks RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT Runtime)
endif()

# ---- pkg-config --------------------------------------------------------------

# With relative install dirs (the usual case) the .pc file finds the prefix from
# its own location, so it stays right when the prefix is only chosen at install
# time (cmake --install build --prefix DIR) or the tree is moved. Absolute dirs
# (-DCMAKE_INSTALL_LIBDIR=/abs/path) are written as they are.
if(IS_ABSOLUTE "${TT_PKGCONFIG_INSTALL_DIR}")
  set(TT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _tt_pc_up "/${TT_PKGCONFIG_INSTALL_DIR}" "/")
  string(REGEX REPLACE "/$" "" _tt_pc_up "${_tt_pc_up}")
  set(TT_PC_PREFIX "\${pcfiledir}/${_tt_pc_up}")
  unset(_tt_pc_up)
endif()
foreach(_tt_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_tt_dir}}")
    set(TT_PC_${_tt_dir} "${CMAKE_INSTALL_${_tt_dir}}")
  else()
    set(TT_PC_${_tt_dir} "\${prefix}/${CMAKE_INSTALL_${_tt_dir}}")
  endif()
endforeach()
unset(_tt_dir)

configure_file("${CMAKE_CURRENT_LIST_DIR}/tether.pc.in"
  "${PROJECT_BINARY_DIR}/tether.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/tether.pc"
  DESTINATION "${TT_PKGCONFIG_INSTALL_DIR}" COMPONENT Development)

# ---- CMake package config ----------------------------------------------------

install(EXPORT tetherTargets
  NAMESPACE tether::
  FILE tetherTargets.cmake
  DESTINATION "${TT_CMAKE_INSTALL_DIR}"
  COMPONENT Development)

configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/tetherConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/tetherConfig.cmake"
  INSTALL_DESTINATION "${TT_CMAKE_INSTALL_DIR}")
# 0.x: a minor release may break the API, so only the same major.minor matches.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/tetherConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/tetherConfig.cmake"
  "${PROJECT_BINARY_DIR}/tetherConfigVersion.cmake"
  DESTINATION "${TT_CMAKE_INSTALL_DIR}" COMPONENT Development)

# The build tree can be used in place, without installing:
#   cmake -Dtether_DIR=/path/to/build ...
export(EXPORT tetherTargets NAMESPACE tether::
  FILE "${PROJECT_BINARY_DIR}/tetherTargets.cmake")
