# BIOPROP_SANITIZE=address (with undefined) or thread: every target of this build is instrumented.
# scripts/sanitize.sh builds the emulation and emulated-device tests this way (DESIGN.md section 6.4:
# the sanitizers stand in for compute-sanitizer's memcheck and racecheck).
set(BIOPROP_SANITIZE "" CACHE STRING "Sanitizer build: address or thread (empty: none)")
if(BIOPROP_SANITIZE STREQUAL "address")
  set(sanitizer_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(BIOPROP_SANITIZE STREQUAL "thread")
  set(sanitizer_flags -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT BIOPROP_SANITIZE STREQUAL "")
  message(FATAL_ERROR "BIOPROP_SANITIZE must be address, thread or empty, not '${BIOPROP_SANITIZE}'")
endif()
if(sanitizer_flags)
  foreach(flag IN LISTS sanitizer_flags)
    add_compile_options($<$<COMPILE_LANGUAGE:CXX>:${flag}>)
  endforeach()
  add_link_options(${sanitizer_flags})
endif()
# The main build whose engine archives a sanitizer build links (host/CMakeLists.txt).
set(BIOPROP_PREBUILT_CORE_DIR "" CACHE PATH "Sanitizer builds: the main build folder to take the engine from")
