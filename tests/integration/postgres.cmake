# PostgreSQL tests (included by tests/integration/CMakeLists.txt). One throwaway server for all of
# them: the CTest fixture `postgres` runs pg_server.sh start/stop on ${CMAKE_BINARY_DIR}/pg-test
# (initdb + pg_ctl, as the `postgres` user when run as root, unix socket only).
# Without the PostgreSQL server binaries the setup exits 77 (reported as skipped; CTest still runs
# the tests that require a skipped setup) and every PG test prints "postgres binaries not found",
# which CTest reports as skipped (not passed).
set(WEBIM_PG_TEST_DIR ${CMAKE_BINARY_DIR}/pg-test)
set(WEBIM_PG_SERVER ${CMAKE_CURRENT_LIST_DIR}/pg_server.sh)
add_test(NAME postgres/server-start COMMAND bash ${WEBIM_PG_SERVER} start ${WEBIM_PG_TEST_DIR})
add_test(NAME postgres/server-stop COMMAND bash ${WEBIM_PG_SERVER} stop ${WEBIM_PG_TEST_DIR})
set_tests_properties(postgres/server-start PROPERTIES FIXTURES_SETUP postgres TIMEOUT 120 SKIP_RETURN_CODE 77
                     LABELS postgres)
set_tests_properties(postgres/server-stop PROPERTIES FIXTURES_CLEANUP postgres TIMEOUT 60 SKIP_RETURN_CODE 77
                     LABELS postgres)

function(webim_pg_test name)
  set_tests_properties("${name}" PROPERTIES FIXTURES_REQUIRED postgres RESOURCE_LOCK postgres TIMEOUT 120
    SKIP_REGULAR_EXPRESSION "postgres binaries not found" LABELS "postgres;hub")
  set_property(TEST "${name}" PROPERTY ENVIRONMENT
    "WEBIM_TEST_PG_DIR=${WEBIM_PG_TEST_DIR}" "WEBIM_PG_SERVER_SCRIPT=${WEBIM_PG_SERVER}")
endfunction()

# The store contract tests on PostgreSQL: the hidden [postgres] cases of unit_history_store_test.
if(TARGET unit_history_store_test)
  add_test(NAME "unit/history_store_test: postgres" COMMAND unit_history_store_test "[postgres]")
  webim_pg_test("unit/history_store_test: postgres")
endif()
# The pipelined commit (write, sync from another thread, abandon) on PostgreSQL.
if(TARGET unit_store_pipeline_test)
  add_test(NAME "unit/store_pipeline_test: postgres" COMMAND unit_store_pipeline_test "[postgres]")
  webim_pg_test("unit/store_pipeline_test: postgres")
endif()
# Plain inserts, and the upsert retry of a batch that rewrites a key (an expired cid reused).
if(TARGET unit_read_cursors_store_test)
  add_test(NAME "unit/read_cursors_store_test: postgres" COMMAND unit_read_cursors_store_test "[postgres]")
  webim_pg_test("unit/read_cursors_store_test: postgres")
endif()
if(TARGET unit_unread_index_test)
  add_test(NAME "unit/unread_index_test: postgres" COMMAND unit_unread_index_test "[postgres]")
  webim_pg_test("unit/unread_index_test: postgres")
endif()

if(TARGET unit_postgres_commit_test)
  add_test(NAME "unit/postgres_commit_test: postgres" COMMAND unit_postgres_commit_test "[postgres]")
  webim_pg_test("unit/postgres_commit_test: postgres")
endif()
# A database written by the release before the schema version (tests/fixtures/store-v0) migrates.
if(TARGET unit_store_fixture_test)
  add_test(NAME "unit/store_fixture_test: postgres" COMMAND unit_store_fixture_test "[postgres]")
  webim_pg_test("unit/store_fixture_test: postgres")
endif()

# Presence: last seen in the PostgreSQL store.
if(TARGET unit_presence_store_test)
  add_test(NAME "unit/presence_store_test: postgres" COMMAND unit_presence_store_test "[postgres]")
  webim_pg_test("unit/presence_store_test: postgres")
endif()

# The hub on PostgreSQL: publish, kill -9, restart, seq continues, history complete.
if(TARGET webim-broadcast)
  add_test(NAME hub/postgres-e2e
           COMMAND timeout 100 bash ${CMAKE_CURRENT_LIST_DIR}/hub_postgres_e2e.sh $<TARGET_FILE:webim-broadcast>)
  webim_pg_test(hub/postgres-e2e)
endif()

# Read cursors survive a hub restart on PostgreSQL (the same check as integration/read_cursors_restart).
if(TARGET webim-broadcast AND NODE_EXECUTABLE)
  add_test(NAME "integration/read_cursors: postgres"
           COMMAND ${NODE_EXECUTABLE} ${WEBIM_NODE_TEST} ${CMAKE_CURRENT_LIST_DIR}/read_cursors_pg.test.mjs)
  webim_pg_test("integration/read_cursors: postgres")
  set_property(TEST "integration/read_cursors: postgres" APPEND PROPERTY ENVIRONMENT ${WEBIM_TEST_ENV})
  set_property(TEST "integration/read_cursors: postgres" PROPERTY SKIP_RETURN_CODE 77)
  # A user's own publish marks the channel read (the same check as integration/own_reads).
  add_test(NAME "integration/own_reads: postgres"
           COMMAND ${NODE_EXECUTABLE} ${WEBIM_NODE_TEST} ${CMAKE_CURRENT_LIST_DIR}/own_reads_pg.test.mjs)
  webim_pg_test("integration/own_reads: postgres")
  set_property(TEST "integration/own_reads: postgres" APPEND PROPERTY ENVIRONMENT ${WEBIM_TEST_ENV})
  set_property(TEST "integration/own_reads: postgres" PROPERTY SKIP_RETURN_CODE 77)
endif()

# Edit and delete: the stored entries and a delete's redaction, on PostgreSQL.
if(TARGET unit_message_edits_test)
  add_test(NAME "unit/message_edits_test: postgres" COMMAND unit_message_edits_test "[postgres]")
  webim_pg_test("unit/message_edits_test: postgres")
endif()

# Erasing a user: the per-sender index and erase slices, on PostgreSQL.
if(TARGET unit_erase_job_test)
  add_test(NAME "unit/erase_job_test: postgres" COMMAND unit_erase_job_test "[postgres]")
  webim_pg_test("unit/erase_job_test: postgres")
endif()

# Conversations (dm notices, the outbox, the conversation index) on PostgreSQL: the same tests as
# integration/conversations and integration/conversations_shards, each hub in a schema of its own.
if(TARGET webim-broadcast AND NODE_EXECUTABLE)
  foreach(name conversations conversations_shards)
    add_test(NAME "integration/${name}: postgres"
             COMMAND ${NODE_EXECUTABLE} ${WEBIM_NODE_TEST} ${CMAKE_CURRENT_LIST_DIR}/${name}.test.mjs)
    webim_pg_test("integration/${name}: postgres")
    set_property(TEST "integration/${name}: postgres" APPEND PROPERTY ENVIRONMENT ${WEBIM_TEST_ENV} WEBIM_TEST_STORE=postgres)
    set_property(TEST "integration/${name}: postgres" PROPERTY SKIP_RETURN_CODE 77)
  endforeach()
endif()
