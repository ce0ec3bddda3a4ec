#!/usr/bin/python3
"""An adversarial BitTorrent seeder (BEP 3 over TCP, plaintext) for robustness tests.

    evil_peer.py --ip IP --port PORT --mode MODE TORRENT SAVE_PATH
                 [--corrupt-pieces 0,3,7] [--have-mask-file F] [--announce URL]
                 [--connect HOST:PORT ...] [--connect-times N] [--vanish-after-blocks N]

It listens on IP:PORT (and, with --connect, also dials out to those peers), handshakes, sends a
bitfield, unchokes at once and answers requests with the payload's bytes from SAVE_PATH, except
where MODE says to misbehave:

  honest                  a correct seeder (the control case)
  corrupt                 wrong bytes for the pieces in --corrupt-pieces (default: every piece)
  lying-bitfield          a bitfield 5 bytes too long, all bits set
  have-out-of-range       a correct bitfield, then HAVE(num_pieces) and HAVE(2**32 - 1)
  huge-length-prefix      after the handshake, a message whose length prefix is 2**31, then
                          silence (a client must neither allocate 2 GiB nor wait for ever)
  garbage-after-handshake 64 KiB of random bytes right after the handshake
  vanish-mid-piece        for a request (after --vanish-after-blocks good blocks), half of the
                          piece message, then the connection is closed
  wrong-infohash          answers the handshake with a different info-hash
  unsolicited-piece       right after unchoking, piece messages nobody requested (wrong bytes),
                          then honest
  choked-allowed-fast     speaks the fast extension (BEP 6), never unchokes, sends allowed-fast
                          for every piece it has and serves only those (others get a reject)

With --connect-times N it dials each --connect peer N times, one connection after the other
(the next once the last has closed), as a peer that keeps coming back does.

It prints READY when listening (and announced, with --announce), and one line
"EVENT {json}" per thing that happened: connection, handshake, sent (misbehaviour), served,
vanished, closed (by whom, after how long, what was received). Runs until SIGTERM.
"""

import argparse
import asyncio
import http.client
import json
import os
import random
import signal
import socket
import struct
import sys
import time
import urllib.parse

import libtorrent as lt

PSTR = b"BitTorrent protocol"
MAX_CLIENT_MESSAGE = 1 << 18       # what we accept from the client (requests are tiny)
MAX_BLOCK = 1 << 17                # biggest block we serve
MODES = ("honest", "corrupt", "lying-bitfield", "have-out-of-range", "huge-length-prefix",
         "garbage-after-handshake", "vanish-mid-piece", "wrong-infohash", "unsolicited-piece",
         "choked-allowed-fast")
MESSAGE_NAMES = {0: "choke", 1: "unchoke", 2: "interested", 3: "not-interested", 4: "have",
                 5: "bitfield", 6: "request", 7: "piece", 8: "cancel", 9: "port",
                 13: "suggest", 14: "have-all", 15: "have-none", 16: "reject", 17: "allowed-fast",
                 20: "extended"}


def event(kind, **fields):
    fields["event"] = kind
    fields["t"] = round(time.monotonic(), 3)
    print("EVENT " + json.dumps(fields, sort_keys=True), flush=True)


class Payload:
    """Reads torrent byte ranges from the files under save_path (pad files read as zeros)."""

    def __init__(self, torrent_path, save_path):
        ti = lt.torrent_info(torrent_path)
        self.info_hash = ti.info_hashes().v1.to_bytes()
        self.piece_length = ti.piece_length()
        self.num_pieces = ti.num_pieces()
        self.total_size = ti.total_size()
        fs = ti.files()
        self.files = []  # (offset, size, path or None for padding)
        for i in range(fs.num_files()):
            pad = bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)
            path = None if pad else os.path.join(save_path, fs.file_path(i))
            self.files.append((fs.file_offset(i), fs.file_size(i), path))

    def piece_size(self, index):
        if index == self.num_pieces - 1:
            return self.total_size - self.piece_length * (self.num_pieces - 1)
        return self.piece_length

    def read(self, offset, length):
        out = bytearray()
        end = offset + length
        for start, size, path in self.files:
            lo, hi = max(offset, start), min(end, start + size)
            if lo >= hi:
                continue
            if path is None:
                out += bytes(hi - lo)
            else:
                with open(path, "rb") as f:
                    f.seek(lo - start)
                    out += f.read(hi - lo)
        return bytes(out)


def message(msg_id, payload=b""):
    return struct.pack(">IB", 1 + len(payload), msg_id) + payload


class Session:
    """One connection, incoming or outgoing."""

    def __init__(self, args, payload, have, reader, writer, outgoing):
        self.args, self.payload, self.have = args, payload, have
        self.reader, self.writer = reader, writer
        self.outgoing = outgoing
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.remote = f"{peer[0]}:{peer[1]}"
        self.received = {}
        self.blocks_served = 0
        self.bytes_served = 0
        self.started = time.monotonic()
        self.closed_by = "remote"
        self.corrupt = set(range(payload.num_pieces)) if args.corrupt_pieces is None \
            else set(args.corrupt_pieces)

    async def run(self):
        event("connection", remote=self.remote, outgoing=self.outgoing)
        try:
            await self._run()
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.closed_by = "remote"
            event("remote-error", remote=self.remote, error=type(exc).__name__)
        except ProtocolViolation as exc:
            self.closed_by = "us"
            event("client-violation", remote=self.remote, detail=str(exc))
        except Vanished:
            pass
        finally:
            event("closed", remote=self.remote, by=self.closed_by,
                  seconds=round(time.monotonic() - self.started, 3), received=self.received,
                  blocks_served=self.blocks_served, bytes_served=self.bytes_served)
            try:
                self.writer.close()
            except Exception:  # the socket may already be gone
                pass

    async def send(self, data):
        self.writer.write(data)
        await self.writer.drain()

    def our_handshake(self):
        info_hash = self.payload.info_hash
        if self.args.mode == "wrong-infohash":
            info_hash = bytes(b ^ 0x5A for b in info_hash)
        peer_id = b"-EV0001-" + bytes(random.choice(b"0123456789abcdef") for _ in range(12))
        reserved = bytes(7) + (b"\x04" if self.args.mode == "choked-allowed-fast" else b"\x00")
        return bytes([len(PSTR)]) + PSTR + reserved + info_hash + peer_id

    async def _run(self):
        if self.outgoing:
            await self.send(self.our_handshake())
        head = await asyncio.wait_for(self.reader.readexactly(1), 30)
        if head[0] != len(PSTR):
            raise ProtocolViolation(f"not a BitTorrent handshake (first byte {head[0]})")
        rest = await asyncio.wait_for(self.reader.readexactly(67), 30)
        if rest[:19] != PSTR:
            raise ProtocolViolation("not a BitTorrent handshake")
        info_hash, peer_id = rest[27:47], rest[47:67]
        event("handshake", remote=self.remote, info_hash_ok=info_hash == self.payload.info_hash,
              peer_id=peer_id.decode("latin-1"))
        if info_hash != self.payload.info_hash:
            raise ProtocolViolation("handshake for another torrent")
        if not self.outgoing:
            await self.send(self.our_handshake())
        mode = self.args.mode
        if mode == "wrong-infohash":
            event("sent", remote=self.remote, what="wrong-infohash")
            await self.idle()
            return
        if mode == "huge-length-prefix":
            await self.send(struct.pack(">IB", 1 << 31, 7) + bytes(1024))
            event("sent", remote=self.remote, what="length-prefix-2^31")
            await self.idle()
            return
        if mode == "garbage-after-handshake":
            await self.send(random.Random(7).randbytes(64 * 1024))
            event("sent", remote=self.remote, what="garbage")
            await self.idle()
            return
        await self.send_bitfield()
        if mode == "choked-allowed-fast":
            allowed = [i for i in range(self.payload.num_pieces) if self.have[i]]
            await self.send(b"".join(message(17, struct.pack(">I", i)) for i in allowed))
            event("sent", remote=self.remote, what="allowed-fast", pieces=len(allowed))
            await self.serve()
            return
        await self.send(message(1))  # unchoke
        if mode == "have-out-of-range":
            await self.send(message(4, struct.pack(">I", self.payload.num_pieces)) +
                            message(4, struct.pack(">I", 0xFFFFFFFF)))
            event("sent", remote=self.remote, what="have-out-of-range")
        if mode == "unsolicited-piece":
            junk = random.Random(11).randbytes(16 * 1024)
            for index in range(min(3, self.payload.num_pieces)):
                block = junk[:min(len(junk), self.payload.piece_size(index))]
                await self.send(message(7, struct.pack(">II", index, 0) + block))
            event("sent", remote=self.remote, what="unsolicited-piece")
        await self.serve()

    async def send_bitfield(self):
        n = self.payload.num_pieces
        if self.args.mode == "lying-bitfield":
            body = b"\xff" * ((n + 7) // 8 + 5)
            await self.send(message(5, body))
            event("sent", remote=self.remote, what="lying-bitfield", length=len(body))
            return
        bits = bytearray((n + 7) // 8)
        for i in range(n):
            if self.have[i]:
                bits[i // 8] |= 0x80 >> (i % 8)
        await self.send(message(5, bytes(bits)))

    async def idle(self):
        """Say nothing more; read (and count) until the client hangs up or 120 s pass."""
        try:
            await asyncio.wait_for(self._drain_reads(), 120)
        except asyncio.TimeoutError:
            self.closed_by = "us"
            event("idle-timeout", remote=self.remote)

    async def _drain_reads(self):
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                return
            self.received["bytes"] = self.received.get("bytes", 0) + len(chunk)

    async def serve(self):
        while True:
            (length,) = struct.unpack(">I", await self.reader.readexactly(4))
            if length == 0:
                self.received["keep-alive"] = self.received.get("keep-alive", 0) + 1
                continue
            if length > MAX_CLIENT_MESSAGE:
                raise ProtocolViolation(f"client sent a {length}-byte message")
            body = await self.reader.readexactly(length)
            name = MESSAGE_NAMES.get(body[0], f"id{body[0]}")
            self.received[name] = self.received.get(name, 0) + 1
            if body[0] == 2 and self.args.mode != "choked-allowed-fast":
                await self.send(message(1))  # unchoke again on interest
            elif body[0] == 6 and len(body) == 13:
                index, begin, size = struct.unpack(">III", body[1:])
                await self.answer(index, begin, size)

    async def answer(self, index, begin, size):
        p = self.payload
        if index >= p.num_pieces or size == 0 or size > MAX_BLOCK or \
                begin + size > p.piece_size(index):
            raise ProtocolViolation(f"bad request {index}/{begin}/{size}")
        if not self.have[index]:
            event("request-for-missing-piece", remote=self.remote, piece=index)
            return
        data = p.read(index * p.piece_length + begin, size)
        header = struct.pack(">IBII", 9 + size, 7, index, begin)
        mode = self.args.mode
        if mode == "vanish-mid-piece" and self.blocks_served >= self.args.vanish_after_blocks:
            self.writer.write(header + data[:size // 2])
            await self.writer.drain()
            # RST rather than FIN: the peer disappears, it does not say goodbye.
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.closed_by = "us"
            event("vanished", remote=self.remote, piece=index, begin=begin)
            self.writer.transport.abort()
            raise Vanished()
        if mode == "corrupt" and index in self.corrupt:
            data = bytes(b ^ 0xA5 for b in data)
            event("served-corrupt", remote=self.remote, piece=index, begin=begin)
        await self.send(header + data)
        self.blocks_served += 1
        self.bytes_served += size
        event("served", remote=self.remote, piece=index, begin=begin, length=size)


class ProtocolViolation(Exception):
    """The client did something a seeder must not tolerate; we hang up."""


class Vanished(Exception):
    """We dropped the connection on purpose (vanish-mid-piece)."""


def announce(url, ip, port, info_hash):
    """One HTTP announce as a seeder, from our own address so the tracker records it."""
    u = urllib.parse.urlsplit(url)
    params = {"info_hash": info_hash, "peer_id": b"-EV0001-announce0000", "port": port,
              "uploaded": 0, "downloaded": 0, "left": 0, "compact": 1, "event": "started"}
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=5,
                                      source_address=(ip, 0))
    try:
        # %20, never '+': opentracker does not decode '+' in info_hash.
        query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        conn.request("GET", f"{u.path}?{query}")
        body = conn.getresponse().read()
    finally:
        conn.close()
    if b"failure reason" in body:
        raise RuntimeError(f"announce refused: {body!r}")


def host_of(target):
    return target.rsplit(":", 1)[0]


def port_of(target):
    return int(target.rsplit(":", 1)[1])


async def main_async(args):
    payload = Payload(args.torrent, args.save_path)
    if args.have_mask_file:
        with open(args.have_mask_file) as f:
            have = [c == "1" for c in f.read().strip()]
    else:
        have = [True] * payload.num_pieces
    tasks = set()

    def start_session(reader, writer, outgoing):
        task = asyncio.ensure_future(Session(args, payload, have, reader, writer, outgoing).run())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(lambda r, w: start_session(r, w, False),
                                        host=args.ip, port=args.port, reuse_address=True)
    if args.announce:
        await asyncio.get_running_loop().run_in_executor(
            None, announce, args.announce, args.ip, args.port, payload.info_hash)
    async def dial(target, times):
        host, port = target.rsplit(":", 1)
        for _ in range(times):
            try:
                reader, writer = await asyncio.open_connection(host, int(port),
                                                               local_addr=(args.ip, 0))
            except OSError as exc:
                event("connect-failed", remote=target, error=str(exc))
                continue
            await Session(args, payload, have, reader, writer, True).run()

    for target in args.connect:
        if args.connect_times == 1:
            try:
                reader, writer = await asyncio.open_connection(host_of(target), port_of(target),
                                                               local_addr=(args.ip, 0))
                start_session(reader, writer, True)
            except OSError as exc:
                event("connect-failed", remote=target, error=str(exc))
        else:
            task = asyncio.ensure_future(dial(target, args.connect_times))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    print("READY", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    for task in list(tasks):
        task.cancel()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ip", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=MODES, required=True)
    ap.add_argument("--corrupt-pieces", type=lambda s: [int(x) for x in s.split(",") if x],
                    help="comma-separated piece indices (corrupt mode; default all)")
    ap.add_argument("--have-mask-file", help="one 0/1 per piece")
    ap.add_argument("--announce", help="HTTP tracker announce URL")
    ap.add_argument("--connect", action="append", default=[], metavar="HOST:PORT")
    ap.add_argument("--connect-times", type=int, default=1,
                    help="dial each --connect peer this many times, one after the other")
    ap.add_argument("--vanish-after-blocks", type=int, default=0)
    ap.add_argument("torrent")
    ap.add_argument("save_path")
    args = ap.parse_args(argv)
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
