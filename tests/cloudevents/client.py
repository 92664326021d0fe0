"""CloudEvents clients for the e2e suite, written the way users write them: events built and
encoded by the official Python SDK (cloudevents 2.x, its `cloudevents.core` API and its legacy
`cloudevents.v1` API), protobuf events built with the schema compiled from
capabilities/proto/cloudevents.proto, NATS through nats-py.

Each subcommand prints one JSON object per line on stdout, for the Rust tests to check:

  http-binary     --url GW --token T --subject S --event JSON [--drop H]... [--header H=V]...
  http-structured --url GW --token T --subject S --event JSON [--header H=V]...
  nats-proto      --url NATS --subject S --event JSON [--content-type CT]
  nats-json       --url NATS --subject S --event JSON [--content-type CT]
  nats-raw        --url NATS --subject S [--content-type CT] --payload-b64 B64 [--header H=V]...
  listen          --url NATS --subject S --count N [--timeout SECS]

An SDK event is `{"api": "core"|"legacy", "attributes": {...}, "data": D}`, with `time` an RFC 3339
string and D one of `{"json": value}`, `{"text": str}`, `{"base64": str}` (bytes) or absent. A
protobuf event is `{"id", "source", "spec_version", "type", "attributes": {name: {"ce_string": v}
| {"ce_bytes": base64} | {"ce_timestamp": rfc3339} | {"ce_integer": n} | {"ce_boolean": b} |
{"ce_uri": v} | {"ce_uri_ref": v}}, "binary_data": base64 | "text_data": str | "proto_data":
{"string_value": str}}`, the data packed into a `google.protobuf.Any` as a StringValue.
"""

import argparse
import asyncio
import base64
import http.client
import json
import sys
from datetime import datetime
from urllib.parse import urlsplit

import nats
from google.protobuf import wrappers_pb2

import cloudevents_pb2
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

PROTOBUF = "application/cloudevents+protobuf"
JSON = "application/cloudevents+json"


def emit(value):
    print(json.dumps(value), flush=True)


def sdk_data(spec):
    data = spec.get("data")
    if data is None:
        return None
    if "json" in data:
        return data["json"]
    if "text" in data:
        return data["text"]
    return base64.b64decode(data["base64"])


def core_event(spec):
    """A `cloudevents.core.v1.event.CloudEvent` (the SDK's current API)."""
    attributes = dict(spec["attributes"])
    if "time" in attributes:
        attributes["time"] = datetime.fromisoformat(attributes["time"])
    return CloudEvent(attributes, sdk_data(spec))


def legacy_http(spec, structured):
    """Headers and body from the SDK's legacy API (`cloudevents.v1`, 1.x's `cloudevents.http`)."""
    from cloudevents.v1.conversion import to_binary, to_structured
    from cloudevents.v1.http import CloudEvent as LegacyEvent

    event = LegacyEvent(dict(spec["attributes"]), sdk_data(spec))
    headers, body = (to_structured if structured else to_binary)(event)
    return dict(headers), body


def sdk_http(spec, structured):
    if spec.get("api", "core") == "legacy":
        return legacy_http(spec, structured)
    event = core_event(spec)
    convert = ce_http.to_structured if structured else ce_http.to_binary
    message = convert(event, JSONFormat())
    return dict(message.headers), message.body


def post(url, token, subject, headers, body):
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    connection.request("POST", f"/publish/{subject}", body=body, headers={**headers, **auth})
    response = connection.getresponse()
    text = response.read().decode("utf-8", "replace")
    connection.close()
    return {
        "status": response.status,
        "body": text,
        "sent_headers": headers,
        "sent_body_b64": base64.b64encode(body).decode(),
    }


def http_command(args, structured):
    headers, body = sdk_http(json.loads(args.event), structured)
    for name in args.drop or []:
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
    for pair in args.header or []:
        name, value = pair.split("=", 1)
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        headers[name] = value
    emit(post(args.url, args.token, args.subject, headers, body))


def proto_event(spec):
    """A `io.cloudevents.v1.CloudEvent` from the compiled schema."""
    event = cloudevents_pb2.CloudEvent(
        id=spec.get("id", ""),
        source=spec.get("source", ""),
        spec_version=spec.get("spec_version", ""),
        type=spec.get("type", ""),
    )
    for name, value in spec.get("attributes", {}).items():
        (kind, v), = value.items()
        attr = event.attributes[name]
        if kind == "ce_timestamp":
            attr.ce_timestamp.FromJsonString(v)
        elif kind == "ce_bytes":
            attr.ce_bytes = base64.b64decode(v)
        else:
            setattr(attr, kind, v)
    if "binary_data" in spec:
        event.binary_data = base64.b64decode(spec["binary_data"])
    elif "text_data" in spec:
        event.text_data = spec["text_data"]
    elif "proto_data" in spec:
        event.proto_data.Pack(wrappers_pb2.StringValue(value=spec["proto_data"]["string_value"]))
    return event


def proto_to_json(event):
    attributes = {}
    for name, value in event.attributes.items():
        kind = value.WhichOneof("attr")
        if kind == "ce_timestamp":
            attributes[name] = {kind: value.ce_timestamp.ToJsonString()}
        elif kind == "ce_bytes":
            attributes[name] = {kind: base64.b64encode(value.ce_bytes).decode()}
        else:
            attributes[name] = {kind: getattr(value, kind)}
    data = None
    kind = event.WhichOneof("data")
    if kind == "binary_data":
        data = {"base64": base64.b64encode(event.binary_data).decode()}
    elif kind == "text_data":
        data = {"text": event.text_data}
    elif kind == "proto_data":
        data = {
            "type_url": event.proto_data.type_url,
            "value_b64": base64.b64encode(event.proto_data.value).decode(),
        }
    return {
        "id": event.id,
        "source": event.source,
        "specversion": event.spec_version,
        "type": event.type,
        "attributes": attributes,
        "data": data,
    }


def sdk_to_json(event):
    """An event the SDK's JSON format parsed, its attributes as the SDK holds them."""
    attributes = {}
    for name, value in event.get_attributes().items():
        if isinstance(value, datetime):
            value = value.isoformat().replace("+00:00", "Z")
        attributes[name] = value
    data = event.get_data()
    if isinstance(data, (bytes, bytearray)):
        data = {"base64": base64.b64encode(data).decode()}
    elif isinstance(data, str):
        data = {"text": data}
    elif data is not None:
        data = {"json": data}
    return {"attributes": attributes, "data": data}


def media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


async def publish(args, payload, content_type, sent=None):
    client = await nats.connect(args.url)
    headers = {"Content-Type": content_type} if content_type else {}
    for pair in args.header or []:
        name, value = pair.split("=", 1)
        headers[name] = value
    await client.publish(args.subject, payload, headers=headers)
    await client.flush()
    await client.close()
    emit({"payload_b64": base64.b64encode(payload).decode(), **(sent or {})})


async def listen(args):
    client = await nats.connect(args.url)
    subscription = await client.subscribe(args.subject)
    await client.flush()
    emit({"ready": True})
    for _ in range(args.count):
        msg = await subscription.next_msg(timeout=args.timeout)
        headers = dict(msg.headers or {})
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        line = {
            "subject": msg.subject,
            "headers": headers,
            "content_type": content_type,
            "payload_b64": base64.b64encode(msg.data).decode(),
            "format": "plain",
            "event": None,
        }
        if media_type(content_type) == PROTOBUF:
            event = cloudevents_pb2.CloudEvent()
            event.ParseFromString(msg.data)
            line["format"], line["event"] = "protobuf", proto_to_json(event)
        elif media_type(content_type) == JSON:
            line["format"] = "json"
            line["event"] = sdk_to_json(JSONFormat().read(None, msg.data))
        emit(line)
    await client.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ["http-binary", "http-structured", "nats-proto", "nats-json", "nats-raw", "listen"]:
        command = commands.add_parser(name)
        command.add_argument("--url", required=True)
        command.add_argument("--subject", required=True)
        command.add_argument("--event")
        command.add_argument("--content-type")
        command.add_argument("--payload-b64")
        command.add_argument("--drop", action="append")
        command.add_argument("--header", action="append")
        command.add_argument("--token")
        command.add_argument("--count", type=int, default=1)
        command.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    if args.command == "http-binary":
        http_command(args, structured=False)
    elif args.command == "http-structured":
        http_command(args, structured=True)
    elif args.command == "nats-proto":
        event = proto_event(json.loads(args.event))
        sent = {}
        if event.WhichOneof("data") == "proto_data":
            sent["proto_data_b64"] = base64.b64encode(event.proto_data.SerializeToString()).decode()
        payload = event.SerializeToString()
        asyncio.run(publish(args, payload, args.content_type or PROTOBUF, sent))
    elif args.command == "nats-json":
        payload = JSONFormat().write(core_event(json.loads(args.event)))
        asyncio.run(publish(args, payload, args.content_type or JSON))
    elif args.command == "nats-raw":
        payload = base64.b64decode(args.payload_b64)
        asyncio.run(publish(args, payload, args.content_type))
    else:
        asyncio.run(listen(args))


if __name__ == "__main__":
    sys.exit(main())
