// Drives @segment/analytics-node against SIGHTLINE_URL; exits 0 only after
// every event was delivered (2xx) and closeAndFlush() resolved.
import { Analytics } from '@segment/analytics-node';
import { config, eventSet } from './events.mjs';

const cfg = config();
const started = Date.now();
// Hard stop so a hung server can never hang the Go test.
setTimeout(() => { console.log(JSON.stringify({ sdk: '@segment/analytics-node', ok: false, errors: ['harness timeout'] })); process.exit(1); }, +(process.env.TIMEOUT_MS || 20000)).unref();
const analytics = new Analytics({
  writeKey: cfg.writeKey,
  host: cfg.url,          // origin only; path is appended
  path: '/v1/batch',      // default, stated for clarity
  flushAt: 20,            // > number of events: one batch, sent by closeAndFlush()
  flushInterval: 10000,
  maxRetries: 2,
  httpRequestTimeout: 5000,
});

const errors = [];
const requests = [];
analytics.on('error', (e) => errors.push(String(e?.reason ?? e?.message ?? e?.code ?? e)));
analytics.on('http_request', (r) => requests.push({ method: r.method, url: r.url }));

const sent = [];
const delivered = [];
for (const ev of eventSet(cfg)) {
  analytics[ev.kind](ev.args, (err, ctx) => {
    if (err) errors.push(`${ev.kind}: ${err?.reason ?? err}`);
    else delivered.push(ctx.event.messageId);
  });
  sent.push({ type: ev.kind, ...ev.args });
}

await analytics.closeAndFlush({ timeout: 15000 });
const ok = errors.length === 0 && delivered.length === sent.length;
console.log(JSON.stringify({ sdk: '@segment/analytics-node', ok, url: cfg.url, writeKey: cfg.writeKey, accountId: cfg.accountId, runId: cfg.runId, requests, delivered: delivered.length, messageIds: delivered, errors, elapsedMs: Date.now() - started, events: sent }));
process.exit(ok ? 0 : 1);
