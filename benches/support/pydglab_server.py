#!/usr/bin/env python3
"""PyDGLab-WS's relay (DGLabWSServer) on 127.0.0.1, for benches/relay_load.rs.

Binds an ephemeral port and prints it as the first stdout line, then serves until killed.
Heartbeats are off, as they are for our relay in the bench, so both do the same work.
"""

import asyncio
import os
import sys
import threading

from pydglab_ws import DGLabWSServer


async def main():
    # compression=None: the bench's clients never negotiate permessage-deflate anyway; this
    # states that neither server compresses.
    async with DGLabWSServer("127.0.0.1", 0, heartbeat_interval=None, compression=None) as server:
        port = server._serve.ws_server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.Event().wait()


def exit_with_parent():
    """The bench holds our stdin open; EOF means it is gone, so never outlive it."""
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    threading.Thread(target=exit_with_parent, daemon=True).start()
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
