"""What browser sessions cost: `nietzsche-tui serve` with N tabs at once (websocket clients).

    uv run python benchmarks/serve.py [--sessions 8] [--model book]

Starts the server on a free 127.0.0.1 port, opens ``--sessions`` websocket connections one after
another (what a browser tab does), and reports for each the time from connecting to the first
frame of the app, then the memory of every app process (resident set, from /proc), the server's
own, and, after the clients disconnect abruptly, how long until no app process is left.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serve.conftest import children  # noqa: E402 - the tests' own process lookup


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    import aiohttp

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--model", default="book")
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "nietzsche_tui", "serve", "--port", str(port), "--model", args.model]
    command += ["--max-sessions", str(args.sessions)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(300):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.05)
        session = aiohttp.ClientSession()
        sockets, firsts = [], []
        for _ in range(args.sessions):
            started = time.perf_counter()
            ws = await session.ws_connect(f"ws://127.0.0.1:{port}/ws?width=160&height=40")
            while (await ws.receive()).type != aiohttp.WSMsgType.BINARY:
                pass
            firsts.append(time.perf_counter() - started)
            sockets.append(ws)
        await asyncio.sleep(2)  # every app has drawn and loaded its model
        apps = children(server.pid)
        memory = [rss_mb(pid) for pid in apps]
        print(f"{args.sessions} sessions, model {args.model}, on {os.cpu_count()} CPUs")
        print(f"connect to first frame: median {statistics.median(firsts):.2f} s, worst {max(firsts):.2f} s")
        print(
            f"app processes: {len(apps)}, resident memory each: median {statistics.median(memory):.0f} MB, "
            f"total {sum(memory):.0f} MB; the server: {rss_mb(server.pid):.0f} MB"
        )
        for ws in sockets:  # vanish without a close handshake, as a killed browser does
            ws._response.connection.transport.abort()
        await session.close()
        started = time.perf_counter()
        while children(server.pid):
            await asyncio.sleep(0.05)
        print(f"all clients dropped: no app process left after {time.perf_counter() - started:.2f} s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
