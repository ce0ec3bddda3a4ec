#!/usr/bin/python3
"""A peer that offers a torrent's metadata over BEP 10/BEP 9 (ut_metadata), honestly or not.

    metadata_peer.py --ip IP --port PORT --mode MODE TORRENT

It listens on IP:PORT, answers the BitTorrent handshake for TORRENT's info-hash with the
extension bit set, sends its extension handshake (`m` = {ut_metadata: 3}, `metadata_size`),
`have none`, and answers every ut_metadata request according to MODE. It never serves pieces.

  honest        the real info dictionary
  wrong-bytes   the right size, every byte of each block flipped
  wrong-size    states a size 1,000 bytes smaller and sends that many garbage bytes
  huge-size     states 30 MiB and sends garbage blocks of that dictionary
  reject        rejects every request

With --delay S it waits S seconds before answering each handshake (so that a test knows which
peers a client hears from first).

Prints READY once listening and "EVENT {json}" per connection, `interested`, request and close.
Runs until SIGTERM.
"""

import argparse
import asyncio
import hashlib
import json
import signal
import struct
import sys

sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from swarmkit.bencode import bdecode, bdecode_prefix, bencode  # noqa: E402

PIECE = 16 * 1024
OUR_METADATA_ID = 3


def event(kind, **fields):
    print("EVENT", json.dumps({"event": kind, **fields}), flush=True)


def info_bytes(torrent_path):
    """The exact bytes of the info dictionary (found by re-encoding: our bencode is canonical)."""
    with open(torrent_path, "rb") as f:
        meta = bdecode(f.read())
    return bencode(meta[b"info"])


class Liar:
    def __init__(self, mode, info, delay=0.0):
        self.mode = mode
        self.delay = delay
        self.info = info
        self.info_hash = hashlib.sha1(info).digest()
        if mode == "wrong-size":
            self.size = max(1, len(info) - 1000)
        elif mode == "huge-size":
            self.size = 30 * 1024 * 1024
        else:
            self.size = len(info)

    def block(self, piece):
        start = piece * PIECE
        if start >= self.size:
            return None
        length = min(PIECE, self.size - start)
        if self.mode == "honest":
            return self.info[start:start + length]
        if self.mode == "wrong-bytes":
            return bytes(b ^ 0xFF for b in self.info[start:start + length])
        return bytes((i * 7 + piece) & 0xFF for i in range(length))

    async def serve(self, reader, writer):
        peer = writer.get_extra_info("peername")
        event("connection", peer=str(peer))
        try:
            theirs = await reader.readexactly(68)
            await asyncio.sleep(self.delay)
            if theirs[28:48] != self.info_hash:
                event("wrong-infohash", peer=str(peer))
                return
            reserved = bytearray(8)
            reserved[5] |= 0x10
            reserved[7] |= 0x04
            writer.write(b"\x13BitTorrent protocol" + bytes(reserved) + self.info_hash + b"-ML0001-" + b"x" * 12)
            handshake = bencode({b"m": {b"ut_metadata": OUR_METADATA_ID}, b"metadata_size": self.size,
                                 b"v": b"metadata_peer"})
            writer.write(struct.pack(">IBB", 2 + len(handshake), 20, 0) + handshake)
            writer.write(struct.pack(">IB", 1, 15))  # have none
            await writer.drain()
            their_id = None
            while True:
                (length,) = struct.unpack(">I", await reader.readexactly(4))
                if length == 0:
                    continue
                body = await reader.readexactly(length)
                if body[0] == 2:
                    event("interested", peer=str(peer))
                if body[0] != 20:
                    continue
                ext, payload = body[1], body[2:]
                if ext == 0:
                    their_id = bdecode_prefix(payload)[0].get(b"m", {}).get(b"ut_metadata")
                    continue
                if ext != OUR_METADATA_ID or their_id is None:
                    continue
                request = bdecode_prefix(payload)[0]
                if request.get(b"msg_type") != 0:
                    continue
                piece = request.get(b"piece", -1)
                event("request", peer=str(peer), piece=piece)
                block = None if self.mode == "reject" else self.block(piece)
                if block is None:
                    reply = bencode({b"msg_type": 2, b"piece": piece})
                else:
                    reply = bencode({b"msg_type": 1, b"piece": piece, b"total_size": self.size}) + block
                writer.write(struct.pack(">IBB", 2 + len(reply), 20, their_id) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, KeyError) as error:
            event("closed", peer=str(peer), reason=type(error).__name__)
        finally:
            writer.close()


async def main_async(args):
    liar = Liar(args.mode, info_bytes(args.torrent), args.delay)
    server = await asyncio.start_server(liar.serve, args.ip, args.port)
    print("READY", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ip", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=["honest", "wrong-bytes", "wrong-size", "huge-size", "reject"], required=True)
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before answering a handshake")
    ap.add_argument("torrent")
    args = ap.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
