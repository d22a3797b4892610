// Drives @rudderstack/rudder-sdk-node against SIGHTLINE_URL; exits 0 only after
// flush(callback) reported success for every event.
import Analytics from '@rudderstack/rudder-sdk-node';
import { config, eventSet } from './events.mjs';

const cfg = config();
const started = Date.now();
// Hard stop so a hung server can never hang the Go test.
setTimeout(() => { console.log(JSON.stringify({ sdk: '@rudderstack/rudder-sdk-node', ok: false, errors: ['harness timeout'] })); process.exit(1); }, +(process.env.TIMEOUT_MS || 20000)).unref();
const errors = [];
const client = new Analytics(cfg.writeKey, {
  dataPlaneUrl: cfg.url,  // SDK posts to `${dataPlaneUrl}/v1/batch`
  flushAt: 20,
  flushInterval: 10000,
  retryCount: 2,
  timeout: 5000,
  logLevel: 'error',
  // gzip: true is the default (Content-Encoding: gzip); set GZIP=0 to disable.
  gzip: process.env.GZIP !== '0',
  errorHandler: (e) => errors.push(String(e?.message ?? e)),
});

const sent = [];
let delivered = 0;
for (const ev of eventSet(cfg)) {
  client[ev.kind](ev.args, (err) => {
    if (err) errors.push(`${ev.kind}: ${err?.message ?? err}`);
    else delivered++;
  });
  sent.push({ type: ev.kind, ...ev.args });
}

await new Promise((resolve) => {
  client.flush((err) => {
    if (err) errors.push(`flush: ${err?.message ?? err}`);
    resolve();
  }).catch((e) => { errors.push(`flush: ${e?.message ?? e}`); resolve(); });
});
// per-event callbacks run via setImmediate after the flush callback
await new Promise((r) => setImmediate(r));
const ok = errors.length === 0 && delivered === sent.length;
console.log(JSON.stringify({ sdk: '@rudderstack/rudder-sdk-node', ok, url: cfg.url, writeKey: cfg.writeKey, accountId: cfg.accountId, runId: cfg.runId, delivered, errors, elapsedMs: Date.now() - started, events: sent }));
process.exit(ok ? 0 : 1);
