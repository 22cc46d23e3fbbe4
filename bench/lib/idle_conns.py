#!/usr/bin/env python3
"""Holds idle and trickling connections open against an HTTP server.

  idle_conns.py PORT IDLE TRICKLE

IDLE connections each make one keep-alive GET /healthz and then sit idle;
TRICKLE connections send a request head one byte a second. A connection the
server closes (idle timeout, header deadline) is opened again, so the load
stays for as long as the process runs. Prints "ready" once every connection is
open, then a line of counts every 5 s. Stop it with SIGTERM.
"""
import asyncio
import resource
import sys

port, idle, trickle = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
counts = {"idle_open": 0, "trickle_open": 0, "reopened": 0}


async def idle_conn(ready):
    first = True
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
            counts["idle_open"] += 1
            if first:
                ready.release()
                first = False
            await reader.read()  # returns when the server closes
            counts["idle_open"] -= 1
            counts["reopened"] += 1
            writer.close()
        except (OSError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.1)


async def trickle_conn(ready):
    head = b"POST /api/v1/events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    first = True
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            counts["trickle_open"] += 1
            if first:
                ready.release()
                first = False
            closed = asyncio.ensure_future(reader.read())
            i = 0
            while not closed.done():
                writer.write(head[i % len(head):i % len(head) + 1])
                i += 1
                await asyncio.wait([closed], timeout=1.0)
            counts["trickle_open"] -= 1
            counts["reopened"] += 1
            writer.close()
        except OSError:
            await asyncio.sleep(0.1)


async def main():
    ready = asyncio.Semaphore(0)
    tasks = [asyncio.ensure_future(idle_conn(ready)) for _ in range(idle)]
    tasks += [asyncio.ensure_future(trickle_conn(ready)) for _ in range(trickle)]
    for _ in range(idle + trickle):
        await ready.acquire()
    print("ready", flush=True)
    while True:
        await asyncio.sleep(5)
        print(" ".join(f"{k}={v}" for k, v in counts.items()), flush=True)


asyncio.run(main())
