# Interface targets that carry the project's compile policy; link them PRIVATE.
#   baton::warnings    the warning set (+ -Werror when BATON_WERROR is ON)
#   baton::conversion  -Wconversion, for the pure core (crdt/)
#   baton::sanitizers  ASan + UBSan when BATON_SANITIZE is ON (+ libFuzzer coverage with
#                      BATON_FUZZ, clang only: tests/fuzz)
option(BATON_WERROR "Treat warnings as errors" OFF)
option(BATON_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(BATON_FUZZ "Build the libFuzzer targets of tests/fuzz (clang; implies BATON_SANITIZE)" OFF)
if(BATON_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "BATON_FUZZ needs clang (libFuzzer); configure with the preset `clang`")
  endif()
  set(BATON_SANITIZE ON CACHE BOOL "" FORCE)
endif()

add_library(baton_warnings INTERFACE)
add_library(baton::warnings ALIAS baton_warnings)
target_compile_options(baton_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Woverloaded-virtual -Wimplicit-fallthrough
  # g++ 12 at -O2/-O3 reports impossible -Wrestrict overlaps inside std::string's operator+
  # (GCC bug 105329); the warning has no true positives we rely on, so it is off for g++.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>
  $<$<BOOL:${BATON_WERROR}>:-Werror>)

add_library(baton_conversion INTERFACE)
add_library(baton::conversion ALIAS baton_conversion)
target_compile_options(baton_conversion INTERFACE -Wconversion -Wsign-conversion)

add_library(baton_sanitizers INTERFACE)
add_library(baton::sanitizers ALIAS baton_sanitizers)
if(BATON_SANITIZE)
  target_compile_options(baton_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(baton_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
if(BATON_FUZZ)
  # Coverage for libFuzzer in every library; only the fuzz targets link its main.
  target_compile_options(baton_sanitizers INTERFACE -fsanitize=fuzzer-no-link)
endif()
