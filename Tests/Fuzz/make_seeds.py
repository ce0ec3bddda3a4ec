#!/usr/bin/python3
"""Writes the seed inputs of Tests/Fuzz/Corpus/<target>/ (run with /usr/bin/python3, which has
libtorrent): real .torrent files made by libtorrent, real replies captured from opentracker over
HTTP and UDP, a real peer-wire capture of a libtorrent seeder, the BEP 9 (ut_metadata) and BEP 11
(ut_pex) messages a libtorrent seeder sends two connected peers, the KRPC answers of a libtorrent
DHT node, plus a few hand-made edge cases (the BEP examples among them).

    /usr/bin/python3 Tests/Fuzz/make_seeds.py            # every seed
    /usr/bin/python3 Tests/Fuzz/make_seeds.py dht pex    # only these groups (see GROUPS)

Only seed-* files are (re)written; crash-* regression inputs are left alone. Everything runs on
127.0.0.1 and every process started is stopped by its PID (swarmkit's ProcessGroup).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Integration"))

import libtorrent as lt  # noqa: E402
from swarmkit.bencode import bdecode, bencode  # noqa: E402
from swarmkit.payload import make_multi_payload, make_single_payload  # noqa: E402
from swarmkit.procs import ProcessGroup  # noqa: E402
from swarmkit.torrents import make_torrent  # noqa: E402
from swarmkit.tracker import Opentracker  # noqa: E402

CORPUS = os.path.join(HERE, "Corpus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def put(target: str, name: str, data: bytes) -> None:
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)
    if target == "krpc":
        # The DHT node is fed the same datagrams (as a stranger's, and as an answer of its own query).
        put("dht-node", name, data)


def torrents(work: str, tracker_url: str) -> list:
    single = make_single_payload(os.path.join(work, "s"), size=40_000, name="single.bin")
    multi = make_multi_payload(os.path.join(work, "m"), layout=[
        ("a.txt", 1000), ("empty", 0), ("dir/b.bin", 70_000), ("dir/sub/c", 5)], name="multi")
    made = [
        ("single", make_torrent(single, 16384, trackers=[tracker_url],
                                out_path=os.path.join(work, "single.torrent"))),
        ("multi-padded", make_torrent(multi, 16384, trackers=[[tracker_url], ["udp://127.0.0.1:1/announce"]],
                                      pad_files=True, out_path=os.path.join(work, "multi-pad.torrent"))),
        ("multi-private", make_torrent(multi, 32768, private=True, comment="fuzz seed",
                                       web_seeds=["http://127.0.0.1:1/ws/"],
                                       out_path=os.path.join(work, "multi-priv.torrent"))),
    ]
    for name, t in made:
        with open(t.path, "rb") as f:
            data = f.read()
        put("metainfo", name + ".torrent", data)
        put("bencode", name + ".torrent", data)
    # The small inputs of the metainfo unit-test corpus: hostile torrents written for those tests.
    unit = os.path.join(HERE, "..", "SwarmMetainfoTests", "Corpus")
    for entry in sorted(os.listdir(unit)):
        path = os.path.join(unit, entry)
        if entry.endswith(".torrent") and os.path.getsize(path) <= 4096:
            shutil.copyfile(path, os.path.join(CORPUS, "metainfo", "seed-unit-" + entry))
    return made


def tracker_replies(procs: ProcessGroup, work: str, info_hash: str, port: int) -> None:
    tracker = Opentracker(procs, os.path.join(work, "tracker"), "127.0.0.1", port, [info_hash]).start()
    base = tracker.announce_url

    def http(params: dict) -> bytes:
        url = base + "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read()
        except urllib.error.HTTPError as error:  # opentracker answers compact=0 with a 400 page
            return error.read()

    common = {"info_hash": bytes.fromhex(info_hash), "uploaded": 0, "downloaded": 0, "left": 0}
    for n in range(3):  # three peers, so the replies carry peer lists
        http({**common, "peer_id": b"-FZ0001-%012d" % n, "port": 6881 + n, "compact": 1, "event": "started"})
    put("http-tracker", "opentracker-compact", http({**common, "peer_id": b"-FZ0001-999999999999",
                                                     "port": 7000, "compact": 1, "numwant": 50}))
    put("http-tracker", "opentracker-noncompact", http({**common, "peer_id": b"-FZ0001-999999999998",
                                                        "port": 7001, "compact": 0, "numwant": 50}))
    put("http-tracker", "opentracker-not-whitelisted", http({**common, "info_hash": b"\x01" * 20,
                                                             "peer_id": b"-FZ0001-999999999997", "port": 7002}))
    put("http-tracker", "handmade-dict-peers", bencode({
        b"interval": 900, b"min interval": 60, b"tracker id": b"t1", b"warning message": b"w",
        b"complete": 2, b"incomplete": 1,
        b"peers": [{b"ip": b"127.0.0.1", b"port": 6881, b"peer id": b"x" * 20},
                   {b"ip": b"::1", b"port": 6882}, {b"ip": b"host.example", b"port": 1}]}))
    put("http-tracker", "handmade-peers6", bencode({
        b"interval": 1800, b"peers": b"", b"peers6": b"\x00" * 15 + b"\x01\x1a\xe1"}))

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(5)
    udp.sendto(struct.pack(">QII", 0x41727101980, 0, 1234), ("127.0.0.1", port))
    connect_reply, _ = udp.recvfrom(2048)
    put("udp-tracker", "opentracker-connect", connect_reply)
    connection_id = struct.unpack(">Q", connect_reply[8:16])[0]
    def announce(ih: bytes, tid: int) -> bytes:
        udp.sendto(struct.pack(">QII20s20sQQQIIIiH", connection_id, 1, tid, ih, b"-FZ0001-888888888888",
                               0, 0, 0, 0, 0, 0, 50, 7003), ("127.0.0.1", port))
        return udp.recvfrom(2048)[0]
    put("udp-tracker", "opentracker-announce", announce(bytes.fromhex(info_hash), 1235))
    put("udp-tracker", "opentracker-not-whitelisted", announce(b"\x01" * 20, 1236))
    put("udp-tracker", "handmade-error", struct.pack(">II", 3, 1237) + b"no such torrent")
    put("udp-tracker", "handmade-announce-partial-entry",
        struct.pack(">IIIII", 1, 1238, 900, 1, 2) + bytes([127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0]))
    udp.close()
    tracker.stop()


def wire_capture(work: str, torrent) -> None:
    """Connects to a libtorrent seeder as a peer and records both directions of the stream."""
    port = free_port()
    session = lt.session({"listen_interfaces": f"127.0.0.1:{port}", "enable_dht": False,
                          "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                          "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True,
                          "unchoke_slots_limit": -1,
                          "alert_mask": lt.alert.category_t.error_notification
                          | lt.alert.category_t.status_notification})
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent.path)
    params.save_path = torrent.payload.save_path
    params.flags |= lt.torrent_flags.seed_mode
    handle = session.add_torrent(params)
    deadline = time.time() + 30
    # Seed mode reports seeding at once; connections are refused until the torrent has resumed.
    def ready() -> bool:
        return any(isinstance(a, lt.torrent_resumed_alert) for a in session.pop_alerts())
    while not ready() and time.time() < deadline:
        time.sleep(0.05)
    info_hash = bytes.fromhex(torrent.info_hash)
    reserved = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])  # BEP 10 extensions, BEP 6 fast
    sent = b"\x13BitTorrent protocol" + reserved + info_hash + b"-FZ0001-777777777777"
    ext = bencode({b"m": {b"ut_metadata": 2, b"ut_pex": 1}, b"v": b"fuzz 1.0", b"reqq": 250, b"p": 7004})
    sent_after = (struct.pack(">IBB", 2 + len(ext), 20, 0) + ext + struct.pack(">IB", 1, 2)
                  + struct.pack(">IBIII", 13, 6, 0, 0, 16384) + struct.pack(">IBI", 5, 4, 1)
                  + struct.pack(">IBIII", 13, 8, 0, 0, 16384) + struct.pack(">I", 0))
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(sent)
        while len(received) < 68 and time.time() < deadline:
            received += s.recv(65536)
        s.sendall(sent_after[:-(17 + 4)])  # ext handshake, interested, request
        # Read until the requested block has arrived (a `piece` message of 9 + 16384 bytes).
        while b"\x00\x00\x40\x09\x07" not in received or len(received) < received.find(b"\x00\x00\x40\x09\x07") + 16393:
            if time.time() > deadline:
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
    for alert in session.pop_alerts():
        print("libtorrent:", alert.message(), file=sys.stderr)
    session.remove_torrent(handle)
    del session
    put("peer-wire", "libtorrent-seeder-stream", received)
    put("peer-wire", "our-stream", sent + sent_after)
    # The extension handshake libtorrent sent, as the payload the decoder hands to ExtensionHandshake.
    at = received.find(b"\x14\x00", 68)
    if at >= 4:
        length = struct.unpack(">I", received[at - 4:at])[0]
        put("peer-wire", "libtorrent-ext-handshake", received[at + 2:at - 4 + 4 + length])
        put("bencode", "libtorrent-ext-handshake", received[at + 2:at - 4 + 4 + length])


def resume_record() -> None:
    """A valid record for the torrent SwarmFuzzChecks' ResumeRecordFuzzCheck decodes against."""
    files = [{b"length": length, b"path": [b"f%d" % i]}
             for i, length in enumerate([100_000, 0, 16384 * 37 - 100_000 - 1])]
    info = bencode({b"files": files, b"name": b"fuzz", b"piece length": 16384, b"pieces": b"\x07" * 740})
    info_hash = hashlib.sha1(info).digest()
    body = (b"SWFSRES2" + bytes([20]) + info_hash + struct.pack("<II", 37, 3)
            + bytes([0xff, 0x0f, 0, 0x80, 0xe0]) + bytes([0, 0, 0, 0x80, 0]) + b"b" * 36
            + struct.pack("<qq", 100_000, 1_700_000_000_000_000_000) + struct.pack("<qq", -1, 0)
            + struct.pack("<qq", 506_207, 5))
    put("resume-record", "valid", body + hashlib.sha256(body).digest())
    put("resume-record", "empty", b"")


def magnets() -> None:
    for name, text in [
        ("hex", "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=Some+Name%20x"),
        ("base32", "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK&tr=udp%3A%2F%2F127.0.0.1%3A6969%2Fannounce"),
        ("full", "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=a%26b&xl=12345"
                 "&tr=http%3A%2F%2Ft%2Fannounce&tr=udp%3A%2F%2Fu%3A1&x.pe=127.0.0.1%3A6881&x.pe=%5B%3A%3A1%5D%3A1"),
        ("v2-and-v1", "magnet:?xt=urn:btmh:1220abcd&xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a"),
        ("bad-escape", "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=%zz"),
    ]:
        put("magnet", name, text.encode())


def start_seeder(torrent, extra_settings: dict | None = None):
    """A libtorrent session seeding `torrent` on a free loopback port; returns (session, port)."""
    port = free_port()
    settings = {"listen_interfaces": f"127.0.0.1:{port}", "enable_dht": False,
                "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True,
                "unchoke_slots_limit": -1,
                "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification}
    settings.update(extra_settings or {})
    session = lt.session(settings)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent.path)
    params.save_path = torrent.payload.save_path
    params.flags |= lt.torrent_flags.seed_mode
    session.add_torrent(params)
    deadline = time.time() + 30
    # Seed mode reports seeding at once; connections are refused until the torrent has resumed.
    while time.time() < deadline and not any(isinstance(a, lt.torrent_resumed_alert) for a in session.pop_alerts()):
        time.sleep(0.05)
    return session, port


class RawPeer:
    """A hand-driven peer connection: handshake, extension handshake, then whole messages."""

    def __init__(self, port: int, info_hash: bytes, peer_id: bytes, listen_port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        reserved = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])  # BEP 10 extensions, BEP 6 fast
        self.sock.sendall(b"\x13BitTorrent protocol" + reserved + info_hash + peer_id)
        self.buffer = b""
        self._read_exactly(68)
        ext = bencode({b"m": {b"ut_metadata": 2, b"ut_pex": 1}, b"v": b"fuzz 1.0", b"p": listen_port})
        self.send_extended(0, ext)
        self.their_ext: dict = {}

    def _read_exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def send_extended(self, ext_id: int, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">IBB", 2 + len(payload), 20, ext_id) + payload)

    def extended_messages(self, seconds: float):
        """Yields (extension id, payload) of the extended messages that arrive within `seconds`."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                (length,) = struct.unpack(">I", self._read_exactly(4))
                body = self._read_exactly(length)
            except (socket.timeout, TimeoutError):
                return
            if length >= 2 and body[0] == 20:
                if body[1] == 0:
                    self.their_ext = bdecode(body[2:])
                yield body[1], body[2:]

    def close(self) -> None:
        self.sock.close()


def extension_messages(work: str) -> None:
    """ut_metadata data and reject messages and a ut_pex message, as a libtorrent seeder sends them."""
    # 855 pieces of 16 KiB: an info dictionary of a little over 16 KiB, so two metadata pieces.
    payload = make_single_payload(os.path.join(work, "meta"), size=855 * 16384 - 1000, name="meta.bin")
    torrent = make_torrent(payload, 16384, out_path=os.path.join(work, "meta.torrent"))
    session, port = start_seeder(torrent)
    info_hash = bytes.fromhex(torrent.info_hash)
    first = RawPeer(port, info_hash, b"-FZ0001-111111111111", 7011)
    second = RawPeer(port, info_hash, b"-FZ0001-222222222222", 7012)
    names = {0: "libtorrent-data-0", 1: "libtorrent-data-last", 7: "libtorrent-reject"}
    got_pex = requested = False
    deadline = time.time() + 20
    while time.time() < deadline and (names or not got_pex):
        for peer in (first, second):
            for ext_id, body in peer.extended_messages(0.5):
                if ext_id == 0:
                    put("extension-handshake", "libtorrent", body)
                elif ext_id == 2:  # our ut_metadata id
                    message = bdecode(body[:body.index(b"ee") + 2]) if b"ee" in body else {}
                    name = names.pop(message.get(b"piece", -1), None)
                    if name:
                        put("ut-metadata", name, body)
                elif ext_id == 1 and not got_pex:  # our ut_pex id
                    put("pex", "libtorrent-full-list", body)
                    got_pex = True
        if not requested and first.their_ext:
            metadata_id = first.their_ext[b"m"][b"ut_metadata"]
            for piece in (0, 1, 7):
                first.send_extended(metadata_id, bencode({b"msg_type": 0, b"piece": piece}))
            requested = True
    if names or not got_pex:
        print("libtorrent did not send every ut_metadata/ut_pex message:", sorted(names), got_pex, file=sys.stderr)
    first.close()
    second.close()
    del session


def handmade_extension_messages() -> None:
    put("extension-handshake", "bep9-example", b"d1:md11:ut_metadatai3ee13:metadata_sizei31235ee")
    put("extension-handshake", "ours", bencode({b"m": {b"ut_metadata": 2, b"ut_pex": 1}, b"v": b"swarmfs",
                                                 b"reqq": 500, b"p": 6881, b"yourip": b"\x7f\x00\x00\x01",
                                                 b"metadata_size": 17123}))
    put("ut-metadata", "bep9-request", b"d8:msg_typei0e5:piecei0ee")
    put("ut-metadata", "bep9-data", b"d8:msg_typei1e5:piecei0e10:total_sizei34256ee" + b"x" * 16384)
    put("ut-metadata", "reject", b"d8:msg_typei2e5:piecei3ee")
    put("ut-metadata", "data-single-short", b"d8:msg_typei1e5:piecei0e10:total_sizei100ee" + bytes(range(100)))
    v4 = bytes([192, 0, 2, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0xc8, 0xd5])
    v6 = bytes(15) + b"\x01\x1a\xe2"
    put("pex", "both-families", bencode({b"added": v4, b"added.f": b"\x12\x00", b"added6": v6, b"added6.f": b"\x04",
                                          b"dropped": bytes([10, 9, 9, 9, 0, 80]), b"dropped6": bytes(16) + b"\x00\x50"}))
    put("pex", "flags-mismatch", bencode({b"added": v4, b"added.f": b"\x01"}))


def dht_messages() -> None:
    """A libtorrent DHT node's answers to BEP 5's four queries (and to an unknown and a malformed
    one), with get_peers asked again after an announce so that `values` carries a peer."""
    port = free_port()
    session = lt.session({"listen_interfaces": f"127.0.0.1:{port}", "enable_dht": True,
                          "dht_bootstrap_nodes": "", "enable_lsd": False, "enable_upnp": False,
                          "enable_natpmp": False, "alert_mask": 0})
    deadline = time.time() + 10
    while time.time() < deadline and not session.is_dht_running():
        time.sleep(0.05)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(3)
    our_id = hashlib.sha1(b"swarmfs fuzz node").digest()
    info_hash = hashlib.sha1(b"swarmfs fuzz torrent").digest()

    def ask(name: str, query: dict) -> dict | None:
        query = {b"t": name[:2].encode(), b"y": b"q", **query}
        data = bencode(query)
        put("krpc", "query-" + name, data)
        udp.sendto(data, ("127.0.0.1", port))
        try:
            reply, _ = udp.recvfrom(65536)
        except (socket.timeout, TimeoutError):
            print("libtorrent's DHT did not answer", name, file=sys.stderr)
            return None
        put("krpc", "libtorrent-" + name, reply)
        return bdecode(reply)

    ask("ping", {b"q": b"ping", b"a": {b"id": our_id}})
    ask("find_node", {b"q": b"find_node", b"a": {b"id": our_id, b"target": info_hash}})
    peers = ask("get_peers", {b"q": b"get_peers", b"a": {b"id": our_id, b"info_hash": info_hash}})
    token = peers.get(b"r", {}).get(b"token", b"") if peers else b""
    ask("announce_peer", {b"q": b"announce_peer", b"a": {b"id": our_id, b"info_hash": info_hash,
                                                         b"port": 6881, b"implied_port": 0, b"token": token}})
    ask("get_peers-values", {b"q": b"get_peers", b"a": {b"id": our_id, b"info_hash": info_hash}})
    ask("unknown-method", {b"q": b"sample_infohashes", b"a": {b"id": our_id, b"target": info_hash}})
    ask("malformed-id", {b"q": b"ping", b"a": {b"id": our_id[:19]}})
    udp.close()
    del session
    # BEP 5's example packets, verbatim.
    for name, text in [
        ("bep5-ping", b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"),
        ("bep5-ping-response", b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re"),
        ("bep5-find_node", b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe"),
        ("bep5-get_peers", b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe"),
        ("bep5-get_peers-values", b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re"),
        ("bep5-announce_peer", b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e"
                               b"5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe"),
        ("bep5-error", b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee"),
    ]:
        put("krpc", name, text)
    nodes = b"".join(hashlib.sha1(b"n%d" % i).digest() + bytes([10, 0, 0, i + 1, 0x1a, 0xe1]) for i in range(8))
    nodes6 = b"".join(hashlib.sha1(b"m%d" % i).digest() + bytes(15) + bytes([i + 1, 0x1a, 0xe1]) for i in range(2))
    put("krpc", "nodes-both-families", bencode({b"t": b"\x00\x01", b"y": b"r", b"ip": bytes([127, 0, 0, 1, 0x1a, 0xe1]),
                                                b"r": {b"id": our_id, b"nodes": nodes, b"nodes6": nodes6, b"token": b"tk"}}))


def dht_table_states() -> None:
    """Saved routing tables in RoutingTable's format (`d 2:id 5:nodes 6:nodes6 1:v e`)."""
    own = hashlib.sha1(b"swarmfs fuzz own id").digest()

    def node(seed: bytes, ip: bytes, port: int) -> bytes:
        return hashlib.sha1(seed).digest() + ip + struct.pack(">H", port)

    def state(nodes: bytes = b"", nodes6: bytes = b"", version: int = 1) -> bytes:
        table = {b"id": own, b"v": version}
        if nodes:
            table[b"nodes"] = nodes
        if nodes6:
            table[b"nodes6"] = nodes6
        return bencode(table)

    many = b"".join(node(b"a%d" % i, bytes([10, 1, i >> 8, i & 0xff]), 6881 + i) for i in range(60))
    near = b"".join(own[:4] + hashlib.sha1(b"near%d" % i).digest()[4:] + bytes([10, 2, 0, i]) + b"\x1a\xe1"
                    for i in range(12))
    six = b"".join(node(b"b%d" % i, bytes(15) + bytes([i + 1]), 7000 + i) for i in range(10))
    put("dht-table-state", "empty", state())
    put("dht-table-state", "ipv4", state(many + near))
    put("dht-table-state", "both-families", state(many[:26 * 10], six))
    put("dht-table-state", "repeats-and-own-id", state(many[:26 * 3] * 2 + own + bytes([10, 9, 9, 9, 0, 1])))


def http_requests() -> None:
    """Request targets (first line) with a Range header (the rest), as the HTTP server sees them."""
    h = "0123456789abcdef0123456789abcdef01234567"
    for name, text in [
        ("file-range", f"/t/{h}/dir/a.mkv\nbytes=0-1"),
        ("dotdot", f"/t/{h}/../etc/passwd\nbytes=-5"),
        ("encoded-slash", f"/t/{h}/a%2Fb\nbytes=5-"),
        ("nul", f"/t/{h}/a%00b\nbytes=0-1,3-4"),
        ("playlist", f"/t/{h}.m3u\nbytes=99999999999999999999-"),
        ("status", "/status.json?x=1"),
    ]:
        put("http-request", name, text.encode())


def utp_packets() -> None:
    """uTP (BEP 29) packets: a SYN, its STATE answer, data, a selective ack, FIN, RESET, and an
    unknown extension before the payload."""
    def packet(kind: int, conn: int, seq: int, ack: int, payload: bytes = b"", ext: bytes = b"", first_ext: int = 0) -> bytes:
        return struct.pack(">BBHIIIHH", kind << 4 | 1, first_ext, conn, 123456, 2000, 1 << 20, seq, ack) + ext + payload
    put("utp", "syn", packet(4, 0x1234, 1, 0))
    put("utp", "syn-ack", packet(2, 0x1234, 500, 1))
    put("utp", "data", packet(0, 0x1235, 2, 499, bytes(range(64))))
    put("utp", "selective-ack", packet(2, 0x1235, 3, 499, ext=bytes([0, 4, 0b101, 0, 0, 0x80]), first_ext=1))
    # libtorrent's masks are as long as they need to be (1-32 bytes), not multiples of 4.
    put("utp", "selective-ack-13-bytes", packet(2, 0x1235, 3, 499, ext=bytes([0, 13]) + bytes(range(1, 14)), first_ext=1))
    put("utp", "fin", packet(1, 0x1235, 9, 500))
    put("utp", "reset", packet(3, 0x1235, 9, 500))
    put("utp", "unknown-extension", packet(0, 0x1235, 2, 499, b"payload", ext=bytes([1, 2, 0xaa, 0xbb, 0, 4, 1, 0, 0, 0]), first_ext=7))


GROUPS = ("torrents", "trackers", "wire", "resume", "magnets", "extensions", "dht", "http", "utp")


def main() -> None:
    groups = set(sys.argv[1:]) or set(GROUPS)
    unknown = groups - set(GROUPS)
    if unknown:
        sys.exit(f"unknown groups {sorted(unknown)}; choose from {GROUPS}")
    work = tempfile.mkdtemp(prefix="swarmfs-seeds-")
    procs = ProcessGroup(os.path.join(work, "logs"))
    try:
        if groups & {"torrents", "trackers", "wire"}:
            tracker_port = free_port()
            made = torrents(work, f"http://127.0.0.1:{tracker_port}/announce")
            put("bencode", "nested", b"d1:ald1:bi-12ee1:ci0eee1:d0:1:eli1ei2eee")
            if "trackers" in groups:
                tracker_replies(procs, work, made[0][1].info_hash, tracker_port)
                for name in os.listdir(os.path.join(CORPUS, "http-tracker")):
                    with open(os.path.join(CORPUS, "http-tracker", name), "rb") as f:
                        put("bencode", "tracker-" + name.removeprefix("seed-"), f.read())
            if "wire" in groups:
                wire_capture(work, made[0][1])
        if "resume" in groups:
            resume_record()
        if "magnets" in groups:
            magnets()
        if "extensions" in groups:
            extension_messages(work)
            handmade_extension_messages()
        if "dht" in groups:
            dht_messages()
            dht_table_states()
        if "http" in groups:
            http_requests()
        if "utp" in groups:
            utp_packets()
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
