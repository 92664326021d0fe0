"""The conformance guest in Python (componentize-py, wasi:http/proxy).

GET / answers `hello from python`, /echo echoes the request body and its `x-echo` header (as
`x-echoed`), anything else is a 404; every answer carries `x-conformance: python`.
"""

from componentize_py_types import Ok, Err
from wit_world import exports
from wit_world.imports.streams import StreamError_Closed
from wit_world.imports.types import (
    Fields,
    IncomingBody,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

KIND = b"python"


def read_body(request: IncomingRequest) -> bytes:
    body = request.consume()
    stream = body.stream()
    chunks = []
    while True:
        try:
            chunks.append(stream.blocking_read(65536))
        except Err as e:
            if isinstance(e.value, StreamError_Closed):
                break
            raise
    stream.__exit__(None, None, None)
    IncomingBody.finish(body)
    return b"".join(chunks)


def respond(out: ResponseOutparam, status: int, headers: list, body: bytes) -> None:
    fields = Fields.from_list(
        [("content-type", b"text/plain"), ("x-conformance", KIND)] + headers
    )
    response = OutgoingResponse(fields)
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
            respond(response_out, 200, [], b"hello from " + KIND + b"\n")
        elif path == "/echo":
            echoed = [("x-echoed", v) for v in request.headers().get("x-echo")]
            respond(response_out, 200, echoed, read_body(request))
        else:
            respond(response_out, 404, [], b"not found\n")
