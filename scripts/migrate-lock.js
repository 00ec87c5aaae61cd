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
// How long the migrator has to stop after SIGTERM once the lock is lost, before SIGKILL.
const KILL_AFTER_MS = 5000;

// The server notices a dead peer (a stopped instance, a cut network) within about 30 s and ends
// the session, releasing the lock, instead of the kernel's two hours ("Dead connection handling in
// PostgreSQL", RDS User Guide); every one of these may be set by any user.
const KEEPALIVES = [
  'SET tcp_keepalives_idle = 15',
  'SET tcp_keepalives_interval = 5',
  'SET tcp_keepalives_count = 3',
  'SET tcp_user_timeout = 30000',
];

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
    // This side notices a dead server too.
    keepAlive: true,
    keepAliveInitialDelayMillis: 15000,
  });
  let child = null;
  let done = false;
  // The lock lives as long as this session: once it is gone another task may migrate, so this
  // migration must not go on. Without an 'error' listener a dropped connection would crash Node,
  // and the migrator would run on unlocked.
  const lost = (err) => {
    if (done) return;
    done = true;
    console.error(`migrate-lock: lost the migration lock${err ? `: ${err.message}` : ''}`);
    if (!child) process.exit(1);
    killGroup(child, 'SIGTERM');
    setTimeout(() => killGroup(child, 'SIGKILL'), KILL_AFTER_MS);
    child.once('exit', () => process.exit(1));
  };
  client.on('error', lost);
  client.on('end', () => lost());
  await client.connect();
  for (const statement of KEEPALIVES) await client.query(statement);
  // Waits while another task holds it; the container's `timeout` bounds the wait. A session lock:
  // PostgreSQL releases it when this connection ends, however this process ends.
  await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
  // Its own process group, so that signals reach whatever the migrator starts in turn.
  child = spawn(command, args, { stdio: 'inherit', detached: true });
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => killGroup(child, signal));
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (status, signal) => resolve(status ?? 128 + constants.signals[signal]));
  });
  if (done) return; // lost the lock: lost() exits 1
  done = true;
  await client.end();
  process.exitCode = code;
}

// killGroup signals the child's process group, or the child alone once the group is gone.
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    try { child.kill(signal); } catch { /* already gone */ }
  }
}

main().catch((err) => {
  console.error(`migrate-lock: ${err.message}`);
  process.exit(1);
});
