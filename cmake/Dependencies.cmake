# Every third-party dependency is found here, once. All come from Debian packages
# (scripts/install-deps.sh) or from the CUDA toolkit folder.
find_package(CUDAToolkit REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
find_package(Boost REQUIRED COMPONENTS context)  # fibers for the CUDA kernel emulation
find_package(ZLIB REQUIRED)
find_package(JPEG REQUIRED)  # libjpeg-turbo: Tiny ImageNet and image folders
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(nlohmann_json REQUIRED)
# Data-parallel training over processes (mpirun / srun); without it bioprop trains in one process.
find_package(MPI COMPONENTS CXX)

# OpenBLAS, its OpenMP build, linked statically: sharing one OpenMP runtime with our own parallel
# loops avoids two thread pools spinning against each other (the pthread build halved our training
# speed on 2 cores), and a static link lets the binaries travel to a GPU machine without Debian.
find_path(OPENBLAS_CBLAS_INCLUDE cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
find_library(OPENBLAS_LIBRARY NAMES libopenblasp-r0.3.21.a libopenblas.a openblasp-r0.3.21 openblas
             PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
find_library(GFORTRAN_LIBRARY NAMES libgfortran.a gfortran PATHS /usr/lib/gcc/x86_64-linux-gnu/12)
if(NOT OPENBLAS_CBLAS_INCLUDE OR NOT OPENBLAS_LIBRARY OR NOT GFORTRAN_LIBRARY)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: run scripts/install-deps.sh "
                      "(Debian packages libopenblas-openmp-dev, libgfortran-12-dev)")
endif()
add_library(bioprop_openblas INTERFACE)
target_include_directories(bioprop_openblas INTERFACE ${OPENBLAS_CBLAS_INCLUDE})
target_link_libraries(bioprop_openblas INTERFACE ${OPENBLAS_LIBRARY} ${GFORTRAN_LIBRARY} OpenMP::OpenMP_CXX m)

include(OneDnn)

# cuDNN ships inside the CUDA toolkit folder on our machines.
find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR})
if(NOT CUDNN_INCLUDE_DIR OR NOT CUDNN_LIBRARY)
  message(FATAL_ERROR "cuDNN not found next to the CUDA toolkit (${CUDAToolkit_LIBRARY_DIR})")
endif()
add_library(bioprop_cudnn INTERFACE)
target_include_directories(bioprop_cudnn INTERFACE ${CUDNN_INCLUDE_DIR})
target_link_libraries(bioprop_cudnn INTERFACE ${CUDNN_LIBRARY})

if(BIOPROP_TESTS)
  find_package(GTest REQUIRED)
endif()
if(BIOPROP_BENCH)
  find_package(benchmark REQUIRED)
endif()
