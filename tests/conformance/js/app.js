// The conformance guest in JavaScript (componentize-js, wasi:http/proxy through the fetch event).
//
// GET / answers `hello from js`, /echo echoes the request body and its `x-echo` header (as
// `x-echoed`), anything else is a 404; every answer carries `x-conformance: js`.

const KIND = 'js';

async function handle(request) {
  const path = new URL(request.url).pathname;
  const headers = new Headers({ 'content-type': 'text/plain', 'x-conformance': KIND });
  if (path === '/') {
    return new Response(`hello from ${KIND}\n`, { status: 200, headers });
  }
  if (path === '/echo') {
    const echo = request.headers.get('x-echo');
    if (echo !== null) {
      headers.set('x-echoed', echo);
    }
    const body = new Uint8Array(await request.arrayBuffer());
    return new Response(body, { status: 200, headers });
  }
  return new Response('not found\n', { status: 404, headers });
}

addEventListener('fetch', (event) => event.respondWith(handle(event.request)));
