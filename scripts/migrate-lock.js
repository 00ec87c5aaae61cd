// migrate-lock.js: run a migration command while holding a PostgreSQL advisory lock, so the
// migrate containers of tasks that start together run one after another: the first applies the
// migrations, the others wait, then find nothing to do. Copy it into the app's image.
// Usage: node migrate-lock.js <command> [args...]   (the pg package must be installed)
'use strict';
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { constants } = require('node:os');
const { Client } = require('pg');

// Any 64-bit number, the same in every task of the app, and unlike the migrators' own locks.
const LOCK_KEY = '4702111234474983745';

async function main() {
  const [command, ...args] = process.argv.slice(2);
  if (!command) throw new Error('usage: node migrate-lock.js <command> [args...]');
  const client = new Client({
    host: process.env.DB_HOST,
    port: Number(process.env.DB_PORT || 5432),
    database: process.env.DB_NAME,
    user: process.env.DB_USER,
    password: process.env.DB_PASSWORD,
    ssl: process.env.DB_SSL === 'true' ? { ca: readFileSync(process.env.DB_SSL_CA, 'utf8') } : false,
    application_name: 'migrate-lock',
  });
  await client.connect();
  // Waits while another task holds it; the container's `timeout` bounds the wait. A session lock:
  // PostgreSQL releases it when this connection ends, however this process ends.
  await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
  const child = spawn(command, args, { stdio: 'inherit' });
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (status, signal) => resolve(status ?? 128 + constants.signals[signal]));
  });
  await client.end();
  process.exitCode = code;
}

main().catch((err) => {
  console.error(`migrate-lock: ${err.message}`);
  process.exit(1);
});
