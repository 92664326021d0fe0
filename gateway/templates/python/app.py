"""{{name}}: an HTTP function for wasmgate (componentize-py, wasi:http/proxy).

The host owns the HTTP server, TLS, limits, logs, metrics and security; this file is the
business logic. `/fn/{{name}}/PATH` reaches it as `PATH`; print() lands in the gateway's log
with the request id.
"""

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)


def respond(out: ResponseOutparam, status: int, body: bytes) -> None:
    response = OutgoingResponse(Fields.from_list([("content-type", b"text/plain")]))
    response.set_status_code(status)
    outgoing = response.body()
    ResponseOutparam.set(out, Ok(response))
    stream = outgoing.write()
    # blocking-write-and-flush takes at most 4096 bytes at a time.
    for start in range(0, len(body), 4096):
        stream.blocking_write_and_flush(body[start : start + 4096])
    stream.__exit__(None, None, None)
    OutgoingBody.finish(outgoing, None)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        path = (request.path_with_query() or "/").split("?", 1)[0]
        if path == "/":
            respond(response_out, 200, b"hello from {{name}}\n")
        else:
            respond(response_out, 404, b"not found\n")
