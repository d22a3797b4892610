// Shared, deterministic event set sent by every harness script / page.
// Env: SIGHTLINE_URL (e.g. http://127.0.0.1:8080), WRITE_KEY, ACCOUNT_ID (group id),
//      RUN_ID (free-form tag copied into every event), USER_PREFIX (optional, default "").
export function config(env = process.env) {
  const url = env.SIGHTLINE_URL;
  const writeKey = env.WRITE_KEY;
  if (!url || !writeKey) {
    console.error('SIGHTLINE_URL and WRITE_KEY are required');
    process.exit(2);
  }
  return {
    url: url.replace(/\/+$/, ''),
    writeKey,
    accountId: env.ACCOUNT_ID || 'acct-1',
    runId: env.RUN_ID || 'run-1',
    userPrefix: env.USER_PREFIX || '',
  };
}

// Returns the ordered list of calls; `kind` is the SDK method, `args` the
// Segment/RudderStack node-style single-object argument.
export function eventSet({ accountId, runId, userPrefix }) {
  const u1 = `${userPrefix}u1`;
  const u2 = `${userPrefix}u2`;
  return [
    { kind: 'identify', args: { userId: u1, traits: { email: `${u1}@example.com`, department: 'Finance', level: 'manager', run_id: runId } } },
    { kind: 'group', args: { userId: u1, groupId: accountId, traits: { name: `Account ${accountId}`, plan: 'enterprise', run_id: runId } } },
    { kind: 'track', args: { userId: u1, event: 'Signed In', properties: { method: 'password', run_id: runId } } },
    { kind: 'track', args: { userId: u1, event: 'Report Viewed', properties: { report: 'Quarterly Revenue', run_id: runId } } },
    { kind: 'page', args: { userId: u2, name: 'Dashboard', properties: { path: '/dashboard', run_id: runId } } },
  ];
}
