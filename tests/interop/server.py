"""Python server side of the interop suite: serves Lab for the Rust client.

Usage: server.py NATS_URL NAME [go]. Subscribes like an nrpc server (queue
group "q", plus the broadcast and direct subjects), or with "go" like a Go
nRPC server (the plain subject, no queue group), prints "ready", and
prints "cancelled <n>" when a streamed call is cancelled by lastbeat.
"""

import asyncio
import sys
import uuid

import nats

import interop_pb2 as pb
from nrpc import nrpc_pb2
import nrpc_py as nrpc

PATTERN = "interop.*.Lab.*.>"


async def main(url, name, go=False):
    nc = await nats.connect(url)
    instance = uuid.uuid4().hex
    tasks = set()

    async def reply(msg, data, broadcast, headers=None):
        headers = dict(headers or {})
        if broadcast:
            headers[nrpc.INSTANCE_HEADER] = instance
        await nc.publish(msg.reply, data, headers=headers or None)

    async def count(msg, req, enc):
        hb = await nc.subscribe(msg.reply + ".heartbeat")
        sent = 0
        stop = asyncio.Event()

        async def keepalive():
            while not stop.is_set():
                await asyncio.sleep(1)
                await nc.publish(msg.reply, nrpc.KEEPALIVE)

        async def watch():
            while True:
                beat = await hb.next_msg(timeout=None)
                last = nrpc_pb2.HeartBeat()
                if enc == "json":
                    last.lastbeat = b"lastbeat" in beat.data and b"true" in beat.data
                else:
                    last.ParseFromString(beat.data)
                if last.lastbeat:
                    print(f"cancelled {sent}", flush=True)
                    stop.set()
                    return

        ka = asyncio.create_task(keepalive())
        watcher = asyncio.create_task(watch())
        for i in range(req.n):
            await nc.publish(msg.reply, nrpc.encode(pb.Greeting(text=str(i)), enc))
            sent += 1
        if req.hang:
            await stop.wait()
            await nc.publish(msg.reply, nrpc.error_frame(nrpc_pb2.Error.CLIENT, "cancelled", enc))
        else:
            await nc.publish(msg.reply, nrpc.error_frame(nrpc_pb2.Error.EOS, "", enc, count=sent))
        stop.set()
        ka.cancel()
        watcher.cancel()
        await hb.unsubscribe()

    async def handle(msg):
        subject = msg.subject
        broadcast = subject.startswith(nrpc.BROADCAST_PREFIX)
        if broadcast:
            subject = subject[len(nrpc.BROADCAST_PREFIX):]
        elif subject.startswith("_NRPC.id."):
            subject = subject.split(".", 3)[3]
        tokens = subject.split(".")
        _, region, _, tenant, method, *rest = tokens
        enc = "json" if rest[-1:] == ["json"] else "protobuf"
        if enc == "json":
            rest = rest[:-1]
        try:
            if method == "Hello":
                req = nrpc.decode(pb.Greeting, msg.data, enc)
                await reply(msg, nrpc.encode(pb.Greeting(text=f"hello, {req.text} from {name}"), enc), broadcast)
            elif method == "Fail":
                req = nrpc.decode(pb.FailRequest, msg.data, enc)
                kind = {
                    pb.FailRequest.CLIENT: nrpc_pb2.Error.CLIENT,
                    pb.FailRequest.SERVER: nrpc_pb2.Error.SERVER,
                    pb.FailRequest.TOOBUSY: nrpc_pb2.Error.SERVERTOOBUSY,
                }[req.kind]
                await reply(msg, nrpc.error_frame(kind, req.message, enc), broadcast)
            elif method == "Tag":
                await reply(msg, nrpc.encode(pb.Greeting(text=f"{region}/{tenant}/{rest[0]}"), enc), broadcast)
            elif method == "Count":
                await count(msg, nrpc.decode(pb.CountRequest, msg.data, enc), enc)
            elif method == "Whoami":
                await reply(msg, nrpc.encode(pb.Greeting(text=name), enc), broadcast)
            else:
                await reply(msg, nrpc.error_frame(nrpc_pb2.Error.CLIENT, f"unknown name: {method}", enc), broadcast)
        except Exception as e:  # a handler failure is a SERVER error
            await reply(msg, nrpc.error_frame(nrpc_pb2.Error.SERVER, str(e), enc), broadcast)

    def spawn(msg):
        task = asyncio.create_task(handle(msg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def on_message(msg):
        spawn(msg)

    if go:
        # As Go nRPC servers do: one plain subscription, no queue group.
        await nc.subscribe(PATTERN, cb=on_message)
    else:
        await nc.subscribe(PATTERN, queue="q", cb=on_message)
        await nc.subscribe(nrpc.BROADCAST_PREFIX + PATTERN, cb=on_message)
        await nc.subscribe(f"_NRPC.id.{instance}.{PATTERN}", cb=on_message)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:] == ["go"]))
