# lrnn_export_eigen_abi(target): the Eigen alignment `target` is compiled with, handed to the users
# of an installed lrnn.
#
# Eigen's heap alignment is part of the ABI: with -march=native on an AVX-512 machine Eigen
# allocates its matrices 64-byte aligned through its own allocator, while a user compiling for
# plain x86-64 frees them with std::free (aborting: "free(): invalid pointer") as soon as a matrix
# made inside lrnn (a loaded checkpoint, say) is destroyed in their code. Installed users therefore
# get EIGEN_MAX_ALIGN_BYTES and EIGEN_MAX_STATIC_ALIGN_BYTES as the library has them, measured
# here with the library's own flags, so both sides allocate and free alike whatever their -march.
# Our own build is untouched (the values are what Eigen picks there anyway).
function(lrnn_export_eigen_abi target)
  set(probe_dir ${CMAKE_BINARY_DIR}/CMakeFiles/lrnn_eigen_abi)
  file(WRITE ${probe_dir}/probe.cpp
       "#include <Eigen/Core>\n#include <cstdio>\n"
       "int main() { std::printf(\"%d;%d\", int(EIGEN_MAX_ALIGN_BYTES), "
       "int(EIGEN_MAX_STATIC_ALIGN_BYTES)); }\n")
  set(flags)
  if(LRNN_NATIVE)
    set(flags -march=native)
  endif()
  try_run(run_result compile_result ${probe_dir}/build ${probe_dir}/probe.cpp
          COMPILE_DEFINITIONS ${flags}
          LINK_LIBRARIES Eigen3::Eigen
          COMPILE_OUTPUT_VARIABLE compile_output
          RUN_OUTPUT_VARIABLE align)
  if(NOT compile_result OR NOT run_result EQUAL 0 OR NOT align MATCHES "^[0-9]+;[0-9]+$")
    message(FATAL_ERROR "lrnn: cannot measure Eigen's alignment (${align}):\n${compile_output}")
  endif()
  list(GET align 0 max_align)
  list(GET align 1 static_align)
  message(STATUS "lrnn: Eigen alignment ${max_align} (heap) / ${static_align} (static) bytes, "
                 "handed to installed users")
  target_compile_definitions(${target} INTERFACE
    $<INSTALL_INTERFACE:EIGEN_MAX_ALIGN_BYTES=${max_align}>
    $<INSTALL_INTERFACE:EIGEN_MAX_STATIC_ALIGN_BYTES=${static_align}>)
endfunction()
