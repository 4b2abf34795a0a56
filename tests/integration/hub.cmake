# Integration tests of the broadcast hub (included by tests/integration/CMakeLists.txt).
#
# hub/e2e: a real webim-broadcast on ipc:// endpoints in a temp dir, driven through its app ingress
# with `webim-broadcast request` and through its frontend ingress + XPUB with hub_frontend_probe
# (see hub_e2e.sh for the checks). `timeout` bounds a hung hub.
if(TARGET webim-broadcast)
  add_executable(hub_frontend_probe ${CMAKE_CURRENT_LIST_DIR}/hub_frontend_probe.cpp)
  target_link_libraries(hub_frontend_probe PRIVATE webim_proto cppzmq PkgConfig::LIBZMQ)
  # A frontend with its own CURVE key at the wire level (peer_auth.test.mjs, WEBIM_PEER_PROBE).
  add_executable(peer_probe ${CMAKE_CURRENT_LIST_DIR}/peer_probe.cpp)
  target_link_libraries(peer_probe PRIVATE webim_proto cppzmq PkgConfig::LIBZMQ)
  add_test(NAME hub/e2e
           COMMAND timeout 60 bash ${CMAKE_CURRENT_LIST_DIR}/hub_e2e.sh
                   $<TARGET_FILE:webim-broadcast> $<TARGET_FILE:hub_frontend_probe>)
  set_tests_properties(hub/e2e PROPERTIES TIMEOUT 90 LABELS "hub;integration")
endif()

# hub/unread-replies: 1,500 unread 1 MiB replies to one app peer stay bounded (needs php-zmq).
if(TARGET webim-broadcast)
  add_test(NAME hub/unread-replies
           COMMAND timeout 60 bash ${CMAKE_CURRENT_LIST_DIR}/hub_unread_replies.sh $<TARGET_FILE:webim-broadcast>)
  set_tests_properties(hub/unread-replies PROPERTIES TIMEOUT 90 LABELS "hub;integration"
    SKIP_RETURN_CODE 77)
endif()

# hub/wal-dir: the RocksDB WAL in its own directory (--wal-dir): the files land there, and a kill -9
# in the middle of a publish stream + restart keeps every acknowledged publish.
if(TARGET webim-broadcast)
  add_test(NAME hub/wal-dir
           COMMAND timeout 60 bash ${CMAKE_CURRENT_LIST_DIR}/hub_wal_dir.sh $<TARGET_FILE:webim-broadcast>)
  set_tests_properties(hub/wal-dir PROPERTIES TIMEOUT 90 LABELS "hub;integration")
endif()
