"""Python client side of the interop suite: calls the Rust Lab servers.

Usage: client.py NATS_URL [poll]. Prints "ok <scenario>" per scenario and
exits non-zero on the first failure; with "poll", only Go-style polling.
"""

import asyncio
import sys

import nats

import interop_pb2 as pb
from nrpc import nrpc_pb2
import nrpc_py as nrpc

PREFIX = ["interop", "eu", "Lab", "acme"]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def poll(url):
    """Go nRPC's Poll against Rust servers run without a queue group."""
    nc = await nats.connect(url)
    replies = await nrpc.broadcast(nc, nrpc.subject(PREFIX, "Whoami"), nrpc_pb2.Void(), pb.Greeting, prefix="")
    names = sorted(r.text for _, r in replies)
    check(names == ["r1", "r2"], f"{replies}")
    print("ok poll")
    await nc.close()


async def main(url):
    nc = await nats.connect(url)

    for enc in ("protobuf", "json"):
        r = await nrpc.call(nc, nrpc.subject(PREFIX, "Hello", encoding=enc), pb.Greeting(text="py"), pb.Greeting, enc)
        check(r.text.startswith("hello, py from "), r.text)
        print(f"ok unary {enc}")

    for kind, expected in (
        (pb.FailRequest.CLIENT, nrpc_pb2.Error.CLIENT),
        (pb.FailRequest.SERVER, nrpc_pb2.Error.SERVER),
        (pb.FailRequest.TOOBUSY, nrpc_pb2.Error.SERVERTOOBUSY),
    ):
        for enc in ("protobuf", "json"):
            try:
                await nrpc.call(nc, nrpc.subject(PREFIX, "Fail", encoding=enc), pb.FailRequest(kind=kind, message="boom"), pb.Greeting, enc)
                raise AssertionError("Fail did not fail")
            except nrpc.RemoteError as e:
                check(e.kind == expected and e.message == "boom", f"{e.kind} {e.message}")
        print(f"ok error {nrpc_pb2.Error.Type.Name(expected)}")

    try:
        await nrpc.call(nc, nrpc.subject(PREFIX, "Nope"), pb.Greeting(), pb.Greeting)
        raise AssertionError("unknown method answered")
    except nrpc.RemoteError as e:
        check(e.kind == nrpc_pb2.Error.CLIENT and "unknown name: Nope" in e.message, e.message)
    print("ok error unknown method")

    r = await nrpc.call(nc, nrpc.subject(PREFIX, "Tag", ["blue"]), nrpc_pb2.Void(), pb.Greeting)
    check(r.text == "eu/acme/blue", r.text)
    print("ok subject params")

    for enc in ("protobuf", "json"):
        items, _ = await nrpc.stream(nc, nrpc.subject(PREFIX, "Count", encoding=enc), pb.CountRequest(n=50), pb.Greeting, enc)
        check([i.text for i in items] == [str(i) for i in range(50)], "stream items")
        print(f"ok stream {enc}")

    # A silent handler: its keepalives arrive while our heartbeats go out,
    # then lastbeat cancels it (the Rust test checks the handler saw it).
    items, keepalives = await nrpc.stream(
        nc, nrpc.subject(PREFIX, "Count"), pb.CountRequest(n=3, hang=True), pb.Greeting, cancel_after=3, linger=2.5
    )
    check(len(items) == 3 and keepalives >= 1, f"{len(items)} items, {keepalives} keepalives")
    print("ok stream keepalive and cancel")

    replies = await nrpc.broadcast(nc, nrpc.subject(PREFIX, "Whoami"), nrpc_pb2.Void(), pb.Greeting)
    names = sorted(r.text for _, r in replies)
    ids = {i for i, _ in replies}
    check(names == ["r1", "r2"] and len(ids) == 2 and "" not in ids, f"{replies}")
    print("ok broadcast")

    await nc.close()


if __name__ == "__main__":
    if sys.argv[2:] == ["poll"]:
        asyncio.run(poll(sys.argv[1]))
    else:
        asyncio.run(main(sys.argv[1]))
