// Shared browser-side helper for segment.html / rudder.html.
// Reads query params, watches fetch/XHR responses from the Sightline host and
// sets window.__done = true once every expected event got a 2xx answer.
(function () {
  var q = new URLSearchParams(location.search);
  var host = (q.get('host') || '').replace(/\/+$/, '');
  var H = (window.__harness = {
    host: host,                                 // e.g. http://127.0.0.1:8080
    key: q.get('key') || '',
    account: q.get('account') || 'acct-1',
    run: q.get('run') || 'run-1',
    userPrefix: q.get('user_prefix') || '',
    batch: q.get('batch') === '1',
    expectedEvents: 5,
    deliveredEvents: 0,
    requests: [],   // {method,url,status,events}
    errors: [],
    sent: [],
    startedAt: Date.now(),
    doneAt: null,
  });
  window.__done = false;
  window.__failed = false;
  if (!host || !H.key) H.errors.push('missing ?host= or ?key=');

  function countEvents(body) {
    try {
      var j = JSON.parse(typeof body === 'string' ? body : '');
      return Array.isArray(j.batch) ? j.batch.length : 1;
    } catch (e) { return 1; }
  }
  function record(method, url, status, body) {
    url = String(url);
    if (url.indexOf(host + '/') !== 0) return;
    var n = countEvents(body);
    H.requests.push({ method: method, url: url, status: status, events: n });
    if (status >= 200 && status < 300) {
      H.deliveredEvents += n;
    } else {
      H.errors.push(method + ' ' + url + ' -> ' + status);
      window.__failed = true;
    }
    if (H.deliveredEvents >= H.expectedEvents && !window.__done) {
      H.doneAt = Date.now();
      window.__done = true;
    }
  }
  var origFetch = window.fetch;
  window.fetch = function (input, init) {
    var url = typeof input === 'string' ? input : (input && input.url) || String(input);
    var method = (init && init.method) || 'GET';
    var body = init && init.body;
    return origFetch.apply(this, arguments).then(function (r) {
      record(method.toUpperCase(), url, r.status, body); return r;
    }, function (e) { record(method.toUpperCase(), url, 0, body); throw e; });
  };
  var origOpen = XMLHttpRequest.prototype.open;
  var origSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__h = { method: String(method).toUpperCase(), url: url };
    return origOpen.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function (body) {
    var xhr = this;
    if (xhr.__h) xhr.addEventListener('loadend', function () { record(xhr.__h.method, xhr.__h.url, xhr.status, body); });
    return origSend.apply(this, arguments);
  };
  window.addEventListener('error', function (e) { H.errors.push('page error: ' + e.message); });
  window.addEventListener('unhandledrejection', function (e) { H.errors.push('unhandled rejection: ' + (e.reason && e.reason.message || e.reason)); });

  // The deterministic browser event set (all as user <prefix>u1).
  H.events = function () {
    var u1 = H.userPrefix + 'u1';
    return [
      ['identify', u1, { email: u1 + '@example.com', department: 'Finance', level: 'manager', run_id: H.run }],
      ['group', H.account, { name: 'Account ' + H.account, plan: 'enterprise', run_id: H.run }],
      ['track', 'Signed In', { method: 'password', run_id: H.run }],
      ['track', 'Report Viewed', { report: 'Quarterly Revenue', run_id: H.run }],
      ['page', 'Dashboard', { path: '/dashboard', run_id: H.run }],
    ];
  };
})();
