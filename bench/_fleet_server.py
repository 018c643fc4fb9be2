"""A fleet of targets on loopback for bench_fleet: one asyncio process answers ``GET
/<name>/admin/v1/state`` for every target after a fixed delay (a network round trip and a
busy target), with the live-state document of an empty target named ``<name>``.
Run: ``python bench/_fleet_server.py PORT DELAY_MS``; it prints ``ready`` once listening."""

from __future__ import annotations

import asyncio
import json
import sys


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            path = line.split()[1].decode()
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            name = path.strip("/").split("/")[0]
            await asyncio.sleep(delay)
            body = json.dumps({"format_version": 1, "target": name, "revision": "1", "resources": {}}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()
    except (ConnectionError, IndexError):
        pass
    finally:
        writer.close()


async def main(port: int, delay: float) -> None:
    server = await asyncio.start_server(lambda r, w: handle(r, w, delay), "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]) / 1000))
