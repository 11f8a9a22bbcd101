# oneDNN (Debian's libdnnl-dev, built with the OpenMP runtime like ours): CpuBackend's convolutions.
# Found by hand rather than with its dnnl-config.cmake, which Debian builds with the OpenCL GPU runtime
# and which then demands OpenCL's headers; the CPU API we use needs neither them nor a GPU.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(DNNL_LIBRARY NAMES dnnl)
if(NOT DNNL_INCLUDE_DIR OR NOT DNNL_LIBRARY)
  message(FATAL_ERROR "oneDNN not found: run scripts/install-deps.sh (Debian package libdnnl-dev)")
endif()
add_library(bioprop_onednn INTERFACE)
target_include_directories(bioprop_onednn INTERFACE ${DNNL_INCLUDE_DIR})
target_link_libraries(bioprop_onednn INTERFACE ${DNNL_LIBRARY})
