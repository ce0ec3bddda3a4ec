"""Put the shaping proxies' addresses on the tracker in the seeders' place.

The seeders never announce (peer.py seed --no-announce), so the tracker would
know no seeder at all.  For every (proxy, torrent) pair an Announcer sends an
HTTP announce as a complete peer (left=0) from a socket bound to the proxy's
IP, with the proxy's port: opentracker records the address the request came
from, so it hands the proxy addresses to leechers, and the leechers'
addresses never reach a seeder.  It re-announces at half the interval the
tracker asks for, and sends event=stopped when stopped.

`tracker_peers()` asks the tracker, like a leecher would, which peers it hands
out (from an address of its own, then withdraws with event=stopped).
"""

import http.client
import ipaddress
import threading
import time
import urllib.parse

from common import log

MIN_REANNOUNCE_S = 5.0
PROBE_IP, PROBE_PORT = "127.0.3.1", 6881
PROBE = f"{PROBE_IP}:{PROBE_PORT}"  # opentracker lists the asking peer too


def bdecode(data):
    """Minimal bencode decoder (tracker replies): bytes keys, bytes strings."""
    def parse(i):
        c = data[i:i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1:end]), end + 1
        if c in (b"l", b"d"):
            items, i = [], i + 1
            while data[i:i + 1] != b"e":
                item, i = parse(i)
                items.append(item)
            if c == b"l":
                return items, i + 1
            return dict(zip(items[::2], items[1::2])), i + 1
        colon = data.index(b":", i)
        n = int(data[i:colon])
        return data[colon + 1:colon + 1 + n], colon + 1 + n
    value, _ = parse(0)
    return value


def announce(tracker, info_hash, peer_id, ip, port, left, event=None, numwant=0, timeout=10):
    """One HTTP announce from a socket bound to `ip`.  tracker: (host, port).
    Returns the decoded reply (raises on a failure reason)."""
    query = {"info_hash": info_hash, "peer_id": peer_id, "port": port, "uploaded": 0,
             "downloaded": 0, "left": left, "compact": 1, "numwant": numwant}
    if event:
        query["event"] = event
    # quote, not urlencode's default quote_plus: opentracker does not read '+' as a
    # space, and an info-hash byte 0x20 would then name another torrent.
    path = "/announce?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    conn = http.client.HTTPConnection(*tracker, timeout=timeout, source_address=(ip, 0))
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        body = reply.read()
    finally:
        conn.close()
    if reply.status != 200:
        raise RuntimeError(f"tracker answered HTTP {reply.status} to {ip}:{port}")
    decoded = bdecode(body)
    if b"failure reason" in decoded:
        raise RuntimeError(f"tracker refused {ip}:{port}: {decoded[b'failure reason']!r}")
    return decoded


def compact_peers(blob):
    """'ip:port' strings of a compact (6 bytes per peer) peer list."""
    return [f"{ipaddress.IPv4Address(blob[i:i + 4])}:{int.from_bytes(blob[i + 4:i + 6], 'big')}"
            for i in range(0, len(blob) - 5, 6)]


class Announcer:
    """Announces every (proxy address, info-hash) until stopped.

    Invariant: between start() and stop() every pair has an announce younger
    than the tracker's interval (re-sent at half of it)."""

    def __init__(self, tracker, proxies, info_hashes):
        """tracker: (host, port); proxies: [(ip, port)]; info_hashes: 20-byte digests."""
        self.tracker, self.proxies, self.info_hashes = tracker, proxies, info_hashes
        self.stop_event = threading.Event()
        self.thread = None
        self.interval = None
        self.errors = []

    def _peer_id(self, ip, port):
        tag = f"-SB0001-{ip.split('.')[-1]:>3}{port % 100000:05d}"
        return tag.encode()[:20].ljust(20, b"x")

    def _announce_all(self, event=None):
        wait = None
        for ip, port in self.proxies:
            for ih in self.info_hashes:
                try:
                    reply = announce(self.tracker, ih, self._peer_id(ip, port), ip, port,
                                     left=0, event=event)
                    interval = reply.get(b"interval", 1800)
                    wait = interval if wait is None else min(wait, interval)
                except (OSError, RuntimeError) as exc:
                    self.errors.append(str(exc))
                    if event != "started":  # the first round is retried (start())
                        log(f"announce {ip}:{port}: {exc}")
        return wait

    def start(self, timeout=20.0):
        # opentracker loads its whitelist in a thread of its own after it starts
        # listening: until then it refuses every torrent, so the first round is retried.
        deadline = time.monotonic() + timeout
        while True:
            self.errors = []
            interval = self._announce_all("started")
            if not self.errors or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if self.errors:
            raise RuntimeError(f"proxies could not announce: {self.errors[-1:]}")
        self.interval = interval
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self):
        while not self.stop_event.wait(max(MIN_REANNOUNCE_S, self.interval / 2)):
            self.interval = self._announce_all() or self.interval

    def stop(self):
        self.stop_event.set()
        if self.thread:
            self.thread.join(15)
            self._announce_all("stopped")
            self.thread = None


def tracker_peers(tracker, info_hash, probe_ip=PROBE_IP, probe_port=PROBE_PORT):
    """The peers the tracker hands a new leecher, as 'ip:port' strings."""
    peer_id = b"-SB0001-probe-000000"
    reply = announce(tracker, info_hash, peer_id, probe_ip, probe_port, left=1,
                     event="started", numwant=200)
    try:
        peers = reply.get(b"peers", b"")
        if isinstance(peers, list):  # non-compact reply
            return sorted(f"{p[b'ip'].decode()}:{p[b'port']}" for p in peers)
        return sorted(compact_peers(peers))
    finally:
        announce(tracker, info_hash, peer_id, probe_ip, probe_port, left=1, event="stopped")
