#!/usr/bin/env node
// Partition-heal workload on Yjs or Automerge, in memory, for
// bench/replication_bench to print beside baton's own figures.
//
//   node heal.mjs --lib yjs|automerge --sites N --updates K
//                 [--tasks 1000] [--seed S] [--runs R] [--timeout-ms MS]
//
// Prints exactly one JSON line on stdout. Errors go to stderr, exit code 1.
// See README.md beside this file for what is and is not measured.

import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const USAGE =
  'usage: node heal.mjs --lib yjs|automerge --sites N --updates K ' +
  '[--tasks 1000] [--seed S] [--runs R] [--timeout-ms MS]';

function die(msg) {
  process.stderr.write(`heal.mjs: ${msg}\n`);
  process.exit(1);
}

function parseIntArg(name, value, min) {
  if (!/^[0-9]+$/.test(value)) die(`--${name} must be an integer, got '${value}'\n${USAGE}`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) die(`--${name} must be >= ${min}, got ${value}`);
  return n;
}

function parseCli(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        lib: { type: 'string' },
        sites: { type: 'string' },
        updates: { type: 'string' },
        tasks: { type: 'string', default: '1000' },
        seed: { type: 'string', default: '1' },
        runs: { type: 'string', default: '3' },
        'timeout-ms': { type: 'string', default: '300000' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    die(`${e.message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  if (values.lib !== 'yjs' && values.lib !== 'automerge') die(`--lib must be yjs or automerge\n${USAGE}`);
  if (values.sites === undefined) die(`--sites is required\n${USAGE}`);
  if (values.updates === undefined) die(`--updates is required\n${USAGE}`);
  const opts = {
    lib: values.lib,
    sites: parseIntArg('sites', values.sites, 2),
    updates: parseIntArg('updates', values.updates, 0),
    tasks: parseIntArg('tasks', values.tasks, 1),
    seed: parseIntArg('seed', values.seed, 0),
    runs: parseIntArg('runs', values.runs, 1),
    timeoutMs: parseIntArg('timeout-ms', values['timeout-ms'], 1),
  };
  if (opts.tasks > 9999) die('--tasks must be <= 9999 (ids are T-0001..T-9999)');
  return opts;
}

// ---------------------------------------------------------------------------
// Workload: the same seeded sequence of offline updates for either library.

// mulberry32: small, fast, seedable; good enough to pick tasks and values.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const taskId = (i) => `T-${String(i + 1).padStart(4, '0')}`;
const STATUSES = ['started', 'done', 'failed'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz      ';

// Site s's K updates: 70% status, 30% note (a 40-char string). A status
// update always moves the task to a status other than the one the site sees
// (Automerge drops a change that sets a value to what it already is, Yjs
// does not), so every update is a real change in both libraries.
function* siteUpdates(seed, site, count, tasks) {
  const rnd = prng((seed * 1000003 + site * 7919 + 1) >>> 0);
  const status = new Array(tasks).fill('pending');
  for (let n = 0; n < count; n++) {
    const t = Math.floor(rnd() * tasks);
    const id = taskId(t);
    if (rnd() < 0.7) {
      const choices = STATUSES.filter((x) => x !== status[t]);
      status[t] = choices[Math.floor(rnd() * choices.length)];
      yield { id, field: 'status', value: status[t] };
    } else {
      let note = `s${site} n${n}: `;
      while (note.length < 40) note += LETTERS[Math.floor(rnd() * LETTERS.length)];
      yield { id, field: 'note', value: note.slice(0, 40) };
    }
  }
}

class Timeout extends Error {}

function deadlineCheck(deadline, what) {
  return () => {
    if (performance.now() > deadline) throw new Timeout(what);
  };
}

// ---------------------------------------------------------------------------
// Yjs: Y.Map 'tasks' of nested Y.Map {status, note}; string values are atomic
// (last-writer-wins per field). Heal = y-protocols style sync step 1 / step 2
// between every ordered pair of sites: send state vector, answer with
// encodeStateAsUpdate(doc, remoteStateVector), apply.

async function yjsRun(Y, o, runIndex) {
  const deadline = performance.now() + o.timeoutMs;
  const check = deadlineCheck(deadline, 'offline updates (untimed set-up)');
  const clientRnd = prng((o.seed * 31 + 12345) >>> 0); // same ids every run

  // Initial doc at site 0, synced to the others before the partition.
  const mkDoc = () => {
    const d = new Y.Doc({ gc: true });
    d.clientID = Math.floor(clientRnd() * 0xffffffff) >>> 0; // seeded, distinct
    return d;
  };
  const base = mkDoc();
  base.transact(() => {
    const tasks = base.getMap('tasks');
    for (let i = 0; i < o.tasks; i++) {
      const t = new Y.Map();
      t.set('status', 'pending');
      t.set('note', '');
      tasks.set(taskId(i), t);
    }
  });
  const baseUpdate = Y.encodeStateAsUpdate(base);
  const docs = [];
  const used = new Set([base.clientID]);
  for (let s = 0; s < o.sites; s++) {
    let d = mkDoc();
    while (used.has(d.clientID)) d = mkDoc();
    used.add(d.clientID);
    Y.applyUpdate(d, baseUpdate);
    docs.push(d);
  }

  // Partition: each site makes K updates, one transaction each.
  const tOffline = performance.now();
  for (let s = 0; s < o.sites; s++) {
    const d = docs[s];
    const tasks = d.getMap('tasks');
    let n = 0;
    for (const u of siteUpdates(o.seed, s, o.updates, o.tasks)) {
      d.transact(() => tasks.get(u.id).set(u.field, u.value));
      if ((++n & 1023) === 0) check();
    }
  }
  const offlineMs = performance.now() - tOffline;
  const svBefore = docs.map((d) => Y.encodeStateVector(d));

  // Heal (timed); it gets its own --timeout-ms budget.
  const healCheck = deadlineCheck(performance.now() + o.timeoutMs, 'heal');
  let bytes = 0;
  const t0 = performance.now();
  // Step 1: every site sends its state vector to every other site.
  const svInbox = docs.map(() => []); // svInbox[j] = [{from:i, sv}]
  for (let i = 0; i < o.sites; i++) {
    const sv = Y.encodeStateVector(docs[i]);
    for (let j = 0; j < o.sites; j++) {
      if (j === i) continue;
      svInbox[j].push({ from: i, sv });
      bytes += sv.byteLength;
    }
  }
  // Step 2: every site answers each state vector with the diff it holds.
  // All answers are computed before any is applied (as if sent at once).
  const updInbox = docs.map(() => []);
  for (let j = 0; j < o.sites; j++) {
    for (const { from, sv } of svInbox[j]) {
      const upd = Y.encodeStateAsUpdate(docs[j], sv);
      updInbox[from].push(upd);
      bytes += upd.byteLength;
      healCheck();
    }
  }
  for (let i = 0; i < o.sites; i++) {
    for (const upd of updInbox[i]) {
      Y.applyUpdate(docs[i], upd, 'remote');
      healCheck();
    }
  }
  const healMs = performance.now() - t0;

  // Verify (untimed): equal state vectors and equal JSON of the map.
  const sv0 = Buffer.from(Y.encodeStateVector(docs[0]));
  const json0 = JSON.stringify(docs[0].getMap('tasks').toJSON());
  for (let s = 1; s < o.sites; s++) {
    if (!sv0.equals(Buffer.from(Y.encodeStateVector(docs[s]))))
      throw new Error(`yjs: site ${s} state vector differs from site 0 after heal`);
    if (JSON.stringify(docs[s].getMap('tasks').toJSON()) !== json0)
      throw new Error(`yjs: site ${s} tasks map differs from site 0 after heal`);
  }
  const svMap = Y.decodeStateVector(sv0);
  for (let s = 0; s < o.sites; s++) {
    if ((svMap.get(docs[s].clientID) ?? 0) !== o.updates)
      throw new Error(`yjs: site ${s}'s ${o.updates} updates are not all in the healed doc`);
    if (docs[s].store.pendingStructs !== null || docs[s].store.pendingDs !== null)
      throw new Error(`yjs: site ${s} has pending (undeliverable) updates after heal`);
  }
  if (Object.keys(JSON.parse(json0)).length !== o.tasks) throw new Error('yjs: task count changed');

  // lacked_bytes: what each site lacked, as one compact Yjs update.
  let lacked = 0;
  for (let s = 0; s < o.sites; s++) lacked += Y.encodeStateAsUpdate(docs[0], svBefore[s]).byteLength;

  for (const d of docs) d.destroy();
  base.destroy();
  return { healMs, bytes, lacked, offlineMs };
}

// ---------------------------------------------------------------------------
// Automerge: root map 'tasks' of nested maps {status, note}; values are
// ImmutableString (atomic, last-writer-wins per field, like the Yjs values;
// a plain JS string would become a collaborative text object). Heal = the
// Automerge sync protocol with one SyncState per ordered pair of sites, in
// lockstep rounds, until a round produces no message.

async function automergeRun(A, o, runIndex) {
  const deadline = performance.now() + o.timeoutMs;
  const check = deadlineCheck(deadline, 'offline updates (untimed set-up)');
  const actor = (n) => (n + 1).toString(16).padStart(32, "0"); // same ids every run

  const init = { tasks: {} };
  for (let i = 0; i < o.tasks; i++) {
    init.tasks[taskId(i)] = { status: new A.ImmutableString('pending'), note: new A.ImmutableString('') };
  }
  const base = A.from(init, actor(0xfff));
  const baseBytes = A.save(base);
  const docs = [];
  for (let s = 0; s < o.sites; s++) docs.push(A.load(baseBytes, actor(s)));

  // Partition: each site makes K updates, one change each.
  const tOffline = performance.now();
  for (let s = 0; s < o.sites; s++) {
    let d = docs[s];
    let n = 0;
    for (const u of siteUpdates(o.seed, s, o.updates, o.tasks)) {
      d = A.change(d, (doc) => {
        doc.tasks[u.id][u.field] = new A.ImmutableString(u.value);
      });
      if ((++n & 1023) === 0) check();
    }
    docs[s] = d;
  }
  const offlineMs = performance.now() - tOffline;
  const headsBefore = docs.map((d) => A.getHeads(d));

  // Heal (timed); it gets its own --timeout-ms budget.
  const healCheck = deadlineCheck(performance.now() + o.timeoutMs, 'heal');
  let bytes = 0;
  let rounds = 0;
  const t0 = performance.now();
  // state[i][j]: site i's sync state for its peer j.
  const state = docs.map((_, i) => docs.map((_, j) => (i === j ? null : A.initSyncState())));
  for (;;) {
    const inflight = []; // {from, to, msg}
    for (let i = 0; i < o.sites; i++) {
      for (let j = 0; j < o.sites; j++) {
        if (i === j) continue;
        const [st, msg] = A.generateSyncMessage(docs[i], state[i][j]);
        state[i][j] = st;
        if (msg !== null) {
          inflight.push({ from: i, to: j, msg });
          bytes += msg.byteLength;
        }
      }
    }
    if (inflight.length === 0) break;
    rounds++;
    for (const { from, to, msg } of inflight) {
      const [d, st] = A.receiveSyncMessage(docs[to], state[to][from], msg);
      docs[to] = d;
      state[to][from] = st;
      healCheck();
    }
    if (rounds > 10000) throw new Error('automerge: sync did not quiesce after 10000 rounds');
  }
  const healMs = performance.now() - t0;

  // Verify (untimed): equal heads, all pre-heal heads present, equal content.
  const h0 = JSON.stringify([...A.getHeads(docs[0])].sort());
  const json0 = JSON.stringify(A.toJS(docs[0]));
  for (let s = 0; s < o.sites; s++) {
    if (JSON.stringify([...A.getHeads(docs[s])].sort()) !== h0)
      throw new Error(`automerge: site ${s} heads differ from site 0 after heal`);
    for (let p = 0; p < o.sites; p++) {
      if (!A.hasHeads(docs[s], headsBefore[p]))
        throw new Error(`automerge: site ${s} lacks site ${p}'s offline changes after heal`);
    }
    if (s > 0 && JSON.stringify(A.toJS(docs[s])) !== json0)
      throw new Error(`automerge: site ${s} content differs from site 0 after heal`);
  }
  if (Object.keys(JSON.parse(json0).tasks).length !== o.tasks) throw new Error('automerge: task count changed');

  // lacked_bytes: what each site lacked, as one compact Automerge bundle of
  // the changes it lacked (saveBundle: the compressed columnar encoding that
  // the sync protocol also uses to ship many changes). saveSince, which
  // concatenates the changes one by one, is said on stderr for comparison.
  let lacked = 0;
  let lackedLoose = 0;
  for (let s = 0; s < o.sites; s++) {
    const hashes = A.getChangesMetaSince(docs[0], headsBefore[s]).map((c) => c.hash);
    if (hashes.length !== (o.sites - 1) * o.updates)
      throw new Error(`automerge: site ${s} lacked ${hashes.length} changes, expected ${(o.sites - 1) * o.updates}`);
    lacked += hashes.length ? A.saveBundle(docs[0], hashes).byteLength : 0;
    lackedLoose += A.saveSince(docs[0], headsBefore[s]).byteLength;
  }

  for (const d of docs) A.free(d);
  A.free(base);
  return { healMs, bytes, lacked, rounds, offlineMs, lackedLoose };
}

// ---------------------------------------------------------------------------

function libVersion(pkgDir) {
  const url = new URL(`./node_modules/${pkgDir}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).version;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const o = parseCli(process.argv.slice(2));
  let lib, run, version;
  try {
    if (o.lib === 'yjs') {
      lib = await import('yjs');
      run = yjsRun;
      version = libVersion('yjs');
    } else {
      lib = await import('@automerge/automerge');
      run = automergeRun;
      version = libVersion('@automerge/automerge');
    }
  } catch (e) {
    die(`cannot load ${o.lib} (run 'npm ci' in bench/peers first): ${e.message}`);
  }

  const out = {
    lib: o.lib,
    sites: o.sites,
    updates: o.updates,
    tasks: o.tasks,
    heal_ms: null,
    bytes: null,
    lacked_bytes: null,
    runs: o.runs,
    version,
  };
  const results = [];
  for (let r = 0; r < o.runs; r++) {
    try {
      results.push(await run(lib, o, r));
    } catch (e) {
      if (e instanceof Timeout) {
        out.error = `timeout after ${o.timeoutMs} ms in ${e.message}, run ${r + 1} of ${o.runs}`;
        process.stdout.write(JSON.stringify(out) + '\n');
        return;
      }
      throw e;
    }
    process.stderr.write(
      `heal.mjs: ${o.lib} run ${r + 1}/${o.runs}: offline updates ${results[r].offlineMs.toFixed(0)} ms (untimed), ` +
        `heal ${results[r].healMs.toFixed(1)} ms, ` +
        `${results[r].bytes} bytes, lacked ${results[r].lacked} bytes` +
        (results[r].rounds ? ` (${results[r].lackedLoose} as loose changes), ${results[r].rounds} sync rounds` : '') +
        '\n',
    );
  }
  // Report bytes and lacked_bytes of the run whose heal_ms is the median.
  const med = median(results.map((x) => x.healMs));
  const pick = results.reduce((a, b) => (Math.abs(b.healMs - med) < Math.abs(a.healMs - med) ? b : a));
  out.heal_ms = Math.round(med * 1000) / 1000;
  out.bytes = pick.bytes;
  out.lacked_bytes = pick.lacked;
  if (results.some((x) => x.bytes !== pick.bytes || x.lacked !== pick.lacked)) {
    // Automerge changes carry wall-clock timestamps, so sizes can differ by
    // a few bytes between runs. Said on stderr; stdout keeps its one shape.
    process.stderr.write(
      `heal.mjs: sizes varied between runs: bytes ${results.map((x) => x.bytes).join(' ')}, ` +
        `lacked_bytes ${results.map((x) => x.lacked).join(' ')}\n`,
    );
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
