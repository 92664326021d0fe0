// {{name}}: an HTTP function for wasmgate. The host owns the HTTP server, TLS, limits, logs,
// metrics and security; this file is the business logic. `/fn/{{name}}/PATH` reaches it as
// `PATH`; console output lands in the gateway's log with the request id.

async function handle(request) {
  const path = new URL(request.url).pathname;
  const headers = new Headers({ 'content-type': 'text/plain' });
  if (path === '/') {
    return new Response('hello from {{name}}\n', { status: 200, headers });
  }
  return new Response('not found\n', { status: 404, headers });
}

addEventListener('fetch', (event) => event.respondWith(handle(event.request)));
