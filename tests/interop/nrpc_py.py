"""A small nRPC peer for Python, written from docs/PROTOCOL.md only.

Subjects, payload framing, error frames, streamed replies (heartbeats,
keepalives, EOS count, lastbeat) and nrpc's broadcast/direct prefixes.
Message classes come from protoc (grpcio-tools) run on the same .proto.
"""

import asyncio
import json

from google.protobuf import json_format

from nrpc import nrpc_pb2

KEEPALIVE = b"\x00"
JSON_ERROR_PREFIX = b'{"__error__":'
BROADCAST_PREFIX = "_NRPC.all."
INSTANCE_HEADER = "Nrpc-Instance"
CODE_HEADER = "Nrpc-Code"


class RemoteError(Exception):
    """An nRPC error reply."""

    def __init__(self, kind, message, headers=None):
        super().__init__(f"{nrpc_pb2.Error.Type.Name(kind)} error: {message}")
        self.kind = kind
        self.message = message
        self.headers = headers or {}


def encode(msg, encoding):
    if encoding == "json":
        return json_format.MessageToJson(msg, indent=None).encode()
    return msg.SerializeToString()


def decode(cls, data, encoding):
    msg = cls()
    if encoding == "json":
        json_format.Parse(data.decode() or "{}", msg)
    else:
        msg.ParseFromString(data)
    return msg


def error_frame(kind, message, encoding, count=0):
    err = nrpc_pb2.Error(type=kind, message=message, msgCount=count)
    if encoding == "json":
        body = json.dumps(json_format.MessageToDict(err), separators=(",", ":"))
        return JSON_ERROR_PREFIX + body.encode() + b"}"
    return b"\x00" + err.SerializeToString()


def parse_error(data, encoding):
    """The nrpc.Error in a reply payload, or None for a regular message."""
    if encoding == "json":
        if not data.startswith(JSON_ERROR_PREFIX):
            return None
        err = nrpc_pb2.Error()
        json_format.ParseDict(json.loads(data)["__error__"], err)
        return err
    if not data.startswith(b"\x00"):
        return None
    err = nrpc_pb2.Error()
    err.ParseFromString(data[1:])
    return err


def subject(prefix_tokens, method, params=(), encoding="protobuf"):
    tokens = list(prefix_tokens) + [method] + list(params)
    for t in tokens:
        if not t or any(c in t for c in ".*> \t\r\n"):
            raise ValueError(f"invalid subject token {t!r}")
    if encoding == "json":
        tokens.append("json")
    return ".".join(tokens)


async def call(nc, subj, req, resp_cls, encoding="protobuf", timeout=10):
    msg = await nc.request(subj, encode(req, encoding), timeout=timeout)
    err = parse_error(msg.data, encoding)
    if err is not None:
        raise RemoteError(err.type, err.message, msg.headers)
    return decode(resp_cls, msg.data, encoding)


async def stream(nc, subj, req, resp_cls, encoding="protobuf", cancel_after=None, linger=0.0, inactivity=5):
    """Calls a streamed-reply method; returns (items, keepalives seen).

    With `cancel_after`, reads that many items, keeps listening for `linger`
    seconds (heartbeats going out, keepalives counted), then cancels.
    """
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    heartbeat = b"{}" if encoding == "json" else b""

    async def beat():
        while True:
            await nc.publish(inbox + ".heartbeat", heartbeat)
            await asyncio.sleep(1)

    beater = asyncio.create_task(beat())
    items, keepalives = [], 0
    try:
        await nc.publish(subj, encode(req, encoding), reply=inbox)
        while True:
            msg = await sub.next_msg(timeout=inactivity)
            if msg.data == KEEPALIVE:
                keepalives += 1
                continue
            err = parse_error(msg.data, encoding)
            if err is not None:
                if err.type == nrpc_pb2.Error.EOS:
                    if err.msgCount != len(items):
                        raise RemoteError(err.type, f"EOS count {err.msgCount} != {len(items)}")
                    return items, keepalives
                raise RemoteError(err.type, err.message, msg.headers)
            items.append(decode(resp_cls, msg.data, encoding))
            if cancel_after is not None and len(items) == cancel_after:
                loop = asyncio.get_running_loop()
                end = loop.time() + linger
                while loop.time() < end:
                    try:
                        more = await sub.next_msg(timeout=end - loop.time())
                    except Exception:  # nats.errors.TimeoutError: linger over
                        break
                    if more.data == KEEPALIVE:
                        keepalives += 1
                last = b'{"lastbeat":true}' if encoding == "json" else nrpc_pb2.HeartBeat(lastbeat=True).SerializeToString()
                await nc.publish(inbox + ".heartbeat", last)
                await nc.flush()
                return items, keepalives
    finally:
        beater.cancel()
        await sub.unsubscribe()


async def broadcast(nc, subj, req, resp_cls, encoding="protobuf", idle=1.5, deadline=10, prefix=BROADCAST_PREFIX):
    """Calls every instance; returns [(instance id, reply)]. With prefix=""
    this is Go nRPC's Poll: the method subject itself, which reaches every
    server subscribed without a queue group."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish(prefix + subj, encode(req, encoding), reply=inbox)
    replies = []
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        wait = min(idle, end - loop.time())
        if wait <= 0:
            break
        try:
            msg = await sub.next_msg(timeout=wait)
        except Exception:  # nats.errors.TimeoutError: idle gap reached
            break
        instance = (msg.headers or {}).get(INSTANCE_HEADER, "")
        replies.append((instance, decode(resp_cls, msg.data, encoding)))
    await sub.unsubscribe()
    return replies
