// The store the conversations tests run on: RocksDB, or PostgreSQL with WEBIM_TEST_STORE=postgres
// (registered by postgres.cmake, which starts the server: WEBIM_TEST_PG_DIR). One schema per hub
// and run, dropped afterwards.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const schemas = new Set();

export function usePostgres() {
  return process.env.WEBIM_TEST_STORE === 'postgres';
}

function dsn() {
  return readFileSync(join(process.env.WEBIM_TEST_PG_DIR, 'dsn'), 'utf8').trim();
}

// The hub's store arguments; `name` tells the hubs of one test apart.
export function storeArgs(name) {
  if (!usePostgres()) return [];
  const schema = `${name}_${process.pid}`;
  if (!schemas.has(schema)) {
    execFileSync('psql', ['-q', dsn(), '-c', `CREATE SCHEMA IF NOT EXISTS ${schema}`]);
    schemas.add(schema);
  }
  return ['--store', 'postgres', '--pg-dsn', `${dsn()} options='-c search_path=${schema}'`];
}

export function dropSchemas() {
  for (const schema of schemas) {
    execFileSync('psql', ['-q', dsn(), '-c', `SET client_min_messages TO warning; DROP SCHEMA IF EXISTS ${schema} CASCADE`]);
  }
  schemas.clear();
}
