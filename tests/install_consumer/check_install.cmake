# ctest case install_consumer: installs the lrnn of BUILD_DIR into a temporary prefix, checks that
# the exported targets hand users no tuning flags and no absolute library paths, then configures,
# builds and runs the consumer project in CONSUMER_DIR against it with default settings.
#   cmake -DBUILD_DIR=... -DCONSUMER_DIR=... -DWORK_DIR=... -P check_install.cmake
foreach(var BUILD_DIR CONSUMER_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_install.cmake: -D${var}=... is required")
  endif()
endforeach()
set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${what} failed (${result}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

file(GLOB_RECURSE exported ${prefix}/*/lrnnTargets.cmake)
if(NOT exported)
  message(FATAL_ERROR "no lrnnTargets.cmake under ${prefix}")
endif()
file(READ ${exported} text)
string(REGEX MATCH "INTERFACE_[A-Z_]+ \"[^\n]*(-march|/usr/|\\.a[;\"])[^\n]*" leak "${text}")
if(leak)
  message(FATAL_ERROR "${exported} hands its users a build-machine setting:\n${leak}")
endif()

# No CMAKE_BUILD_TYPE, no CMAKE_CXX_STANDARD, no flags: what a user gets by default.
run("consumer configure" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${consumer_build}
    -DCMAKE_PREFIX_PATH=${prefix})
run("consumer build" ${CMAKE_COMMAND} --build ${consumer_build})
run("consumer run" ${consumer_build}/consumer ${WORK_DIR}/checkpoint.h5)
message(STATUS "${last_output}")
file(REMOVE_RECURSE ${WORK_DIR})
