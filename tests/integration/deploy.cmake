# Checks of the deployment files in deploy/. Included by tests/integration/CMakeLists.txt.
#
# deploy/systemd-verify  `systemd-analyze verify` on webim.target, webim-broadcast.service and the
#                        webim-frontend@.service template (as instance @0), with ExecStart rewritten
#                        to the built binaries (verify requires existing executables). Skipped when
#                        systemd-analyze is not installed.
# deploy/sysctl-keys     every key of deploy/sysctl.d/90-webim.conf exists on this kernel.
# deploy/example-configs deploy/webim-*.toml document exactly the settings the binaries know, and
#                        the binaries accept them (-found: the script finding the binaries itself).

set(WEBIM_DEPLOY_DIR ${PROJECT_SOURCE_DIR}/deploy)

set(_webim_binaries)
if(TARGET webim-frontend)
  list(APPEND _webim_binaries --frontend $<TARGET_FILE:webim-frontend>)
endif()
if(TARGET webim-broadcast)
  list(APPEND _webim_binaries --broadcast $<TARGET_FILE:webim-broadcast>)
endif()

add_test(NAME deploy/systemd-verify COMMAND bash ${WEBIM_DEPLOY_DIR}/verify-units ${_webim_binaries})
add_test(NAME deploy/sysctl-keys
         COMMAND bash ${WEBIM_DEPLOY_DIR}/verify-sysctl ${WEBIM_DEPLOY_DIR}/sysctl.d/90-webim.conf)
add_test(NAME deploy/example-configs COMMAND bash ${WEBIM_DEPLOY_DIR}/verify-configs ${_webim_binaries})
# The same without flags: the script finds the built binaries itself (WEBIM_BUILD: this build). Not
# finding them (exit 77) fails this one: they are built.
add_test(NAME deploy/example-configs-found COMMAND bash ${WEBIM_DEPLOY_DIR}/verify-configs)
set_tests_properties(deploy/example-configs-found PROPERTIES ENVIRONMENT "WEBIM_BUILD=${PROJECT_BINARY_DIR}"
  TIMEOUT 60 LABELS "deploy;integration")

# Exit code 77 = skipped (tool or binary absent).
set_tests_properties(deploy/systemd-verify deploy/sysctl-keys deploy/example-configs PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 60
  LABELS "deploy;integration")
