# Durability tests of the broadcast hub (included by tests/integration/CMakeLists.txt).
#   hub/durability-enospc  the store's disk fills up under load: publishes get `unavailable`, every
#                          acked message is in history once and in order, and the hub recovers by
#                          itself when space is freed (tmpfs; skipped when mount is not permitted).
#   hub/durability-sync    no ack leaves before the WAL sync that covers it (LD_PRELOAD shim that
#                          logs WAL writes and fdatasync/fsync), group commit (syncs <= commits).
#   hub/retention          retention by count: publish 20, keep 5, hist returns 5, seq continues.
if(TARGET webim-broadcast)
  add_executable(durability_client ${CMAKE_CURRENT_LIST_DIR}/durability_client.cpp)
  target_link_libraries(durability_client PRIVATE cppzmq PkgConfig::LIBZMQ)
  add_library(webim_sync_shim SHARED ${CMAKE_CURRENT_LIST_DIR}/sync_shim.c)
  target_link_libraries(webim_sync_shim PRIVATE dl)

  add_test(NAME hub/durability-enospc
           COMMAND timeout 150 bash ${CMAKE_CURRENT_LIST_DIR}/durability_enospc.sh
                   $<TARGET_FILE:webim-broadcast> $<TARGET_FILE:durability_client>)
  set_tests_properties(hub/durability-enospc PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77
                       LABELS "hub;integration;durability")

  add_test(NAME hub/durability-sync
           COMMAND timeout 150 bash ${CMAKE_CURRENT_LIST_DIR}/durability_sync.sh
                   $<TARGET_FILE:webim-broadcast> $<TARGET_FILE:durability_client>
                   $<TARGET_FILE:webim_sync_shim>)
  set_tests_properties(hub/durability-sync PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77
                       LABELS "hub;integration;durability")

  add_test(NAME hub/retention
           COMMAND timeout 60 bash ${CMAKE_CURRENT_LIST_DIR}/retention_e2e.sh $<TARGET_FILE:webim-broadcast>)
  set_tests_properties(hub/retention PROPERTIES TIMEOUT 90 LABELS "hub;integration;durability")
endif()
