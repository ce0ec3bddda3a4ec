#!/usr/bin/python3
"""One libtorrent session on its own loopback address: a seeder or a leecher, for tests.

    lt_peer.py seed --ip IP --port PORT --status FILE [--have-mask-file F] [--no-tracker]
                    [--upload-limit BYTES_PER_S] TORRENT SAVE_PATH
    lt_peer.py download --ip IP --port PORT --status FILE [--peer HOST:PORT ...] [--no-tracker]
                    [--timeout S] [--keep-running] TORRENT SAVE_PATH

A seeder prints "READY" once it is seeding and (unless --no-tracker) the tracker has answered its
announce, then runs until SIGTERM. --have-mask-file holds one '0'/'1' per piece: a *partial*
seeder that has (and never fetches) only the pieces marked 1.

A leecher prints "COMPLETE {json}" when every piece is downloaded and verified and exits 0
(--keep-running: keeps seeding until SIGTERM), or "TIMEOUT {json}" and exits 1. --peer connects to
a peer directly (retried every 2 s while not connected); --no-tracker never announces, so --peer is
the only source.

Both write --status (JSON) twice a second: progress, payload bytes up/down, hash failures and, per
remote endpoint, the most bytes seen downloaded from / uploaded to it, its client name (from
peer-info samples) and the peer id it sent blocks with.

Configured like the swarmbench peers: no DHT/LSD/UPnP/NAT-PMP, TCP only, outgoing connections
(tracker announces included) bound to --ip, several connections per IP allowed, everybody
unchoked, no rate limits unless asked, plaintext handshakes (no encryption attempt first).
--encryption forced: MSE/PE with RC4 only, in and out (pe_forced); disabled: plaintext only, in and out.
"""

import argparse
import faulthandler
import json
import os
import signal
import sys
import time

import libtorrent as lt

BLOCK = 16 * 1024


def encryption_settings(mode):
    if mode == "forced":
        return {"out_enc_policy": int(lt.enc_policy.forced), "in_enc_policy": int(lt.enc_policy.forced),
                "allowed_enc_level": int(lt.enc_level.rc4), "prefer_rc4": True}
    if mode == "disabled":
        return {"out_enc_policy": int(lt.enc_policy.disabled), "in_enc_policy": int(lt.enc_policy.disabled)}
    return {}


def settings(ip, port, upload_limit=0, transport="tcp"):
    utp, tcp = transport in ("utp", "both"), transport in ("tcp", "both")
    return {
        "listen_interfaces": f"{ip}:{port}",
        "outgoing_interfaces": ip,
        "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": utp, "enable_incoming_utp": utp,
        "enable_outgoing_tcp": tcp, "enable_incoming_tcp": tcp,
        "allow_multiple_connections_per_ip": True,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "upload_rate_limit": upload_limit, "download_rate_limit": 0,
        "rate_limit_ip_overhead": False,
        "unchoke_slots_limit": -1,
        "connections_limit": 200,
        "min_reconnect_time": 1,
        "peer_connect_timeout": 3,
        "request_timeout": 10,
        "stop_tracker_timeout": 1,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "user_agent": "swarmkit/" + lt.__version__,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.tracker_notification
        | lt.alert.category_t.peer_notification
        | lt.alert.category_t.block_progress_notification
        | lt.alert.category_t.upload_notification,
    }


class Stats:
    """Accumulates what the status file reports."""

    def __init__(self, path, ip, port, torrent_info=None):
        self.path, self.ip, self.port = path, ip, port
        self.ti = torrent_info
        self.hash_failures = 0
        self.per_peer = {}  # "ip:port" -> {"downloaded": n, "uploaded": n, "client": s}
        self.announced = False
        self.finished_alert = False
        self.errors = []

    def handle(self, alert):
        if isinstance(alert, lt.hash_failed_alert):
            self.hash_failures += 1
        elif isinstance(alert, lt.torrent_finished_alert):
            # Alerts are ordered: every block_finished_alert of the download came before this.
            self.finished_alert = True
        elif isinstance(alert, lt.block_finished_alert) and self.ti is not None:
            # Exact per-peer byte counts: a connection's own counters vanish when it closes.
            ep = alert.endpoint if hasattr(alert, "endpoint") else alert.ip
            key = f"{ep[0]}:{ep[1]}"
            piece_size = self.ti.piece_size(alert.piece_index)
            size = max(0, min(BLOCK, piece_size - alert.block_index * BLOCK))
            entry = self.per_peer.setdefault(key, {"downloaded": 0, "uploaded": 0, "client": ""})
            entry["blocks_in"] = entry.get("blocks_in", 0) + size
            if "peer_id" not in entry:
                # Known even when the connection closes before a peer-info sample names the client.
                entry["peer_id"] = alert.pid.to_bytes().decode("latin-1")
            entry["downloaded"] = max(entry["downloaded"], entry["blocks_in"])
        elif isinstance(alert, lt.block_uploaded_alert) and self.ti is not None:
            ep = alert.endpoint if hasattr(alert, "endpoint") else alert.ip
            key = f"{ep[0]}:{ep[1]}"
            piece_size = self.ti.piece_size(alert.piece_index)
            size = max(0, min(BLOCK, piece_size - alert.block_index * BLOCK))
            entry = self.per_peer.setdefault(key, {"downloaded": 0, "uploaded": 0, "client": ""})
            entry["blocks_out"] = entry.get("blocks_out", 0) + size
            entry["uploaded"] = max(entry["uploaded"], entry["blocks_out"])
        elif isinstance(alert, lt.tracker_reply_alert):
            self.announced = True
        elif isinstance(alert, (lt.tracker_error_alert, lt.torrent_error_alert,
                                lt.file_error_alert)):
            self.errors.append(alert.message())
            print("ERROR", alert.message(), flush=True)

    def sample(self, handle):
        for p in handle.get_peer_info():
            key = f"{p.ip[0]}:{p.ip[1]}"
            entry = self.per_peer.setdefault(key, {"downloaded": 0, "uploaded": 0, "client": ""})
            entry["downloaded"] = max(entry["downloaded"], p.total_download)
            entry["uploaded"] = max(entry["uploaded"], p.total_upload)
            if p.client:
                entry["client"] = p.client if isinstance(p.client, str) else \
                    p.client.decode("utf-8", "replace")

    def report(self, handle, ready):
        st = handle.status()
        return {"ip": self.ip, "port": self.port, "ready": ready,
                "progress": st.progress, "finished": bool(st.is_seeding or st.is_finished),
                "num_pieces": st.num_pieces,
                "uploaded": st.total_payload_upload, "downloaded": st.total_payload_download,
                "hash_failures": self.hash_failures, "peers": self.per_peer,
                "num_peers": st.num_peers, "announced": self.announced, "errors": self.errors}

    def write(self, handle, ready):
        data = self.report(handle, ready)
        with open(self.path + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(self.path + ".tmp", self.path)
        return data


def add_torrent(ses, args, seeding):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.save_path
    # Start paused so trackers can be dropped before the first announce.
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags |= lt.torrent_flags.paused
    if seeding:
        if args.have_mask_file:
            with open(args.have_mask_file) as f:
                mask = [c == "1" for c in f.read().strip()]
            if len(mask) != atp.ti.num_pieces():
                sys.exit(f"mask has {len(mask)} entries, torrent {atp.ti.num_pieces()} pieces")
            atp.have_pieces = mask
            atp.piece_priorities = [1 if m else 0 for m in mask]
            atp.flags |= lt.torrent_flags.no_verify_files
        else:
            atp.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(atp)
    if args.no_tracker:
        h.replace_trackers([])
    h.resume()
    return h


def pause():
    """Waits a little for alerts to pile up. Not `session.wait_for_alert`: in Debian's libtorrent
    2.0.8 binding it returns a pointer to an alert that `pop_alerts` may free at any moment, and it
    segfaults now and then (seen in CI: a core dump inside that wrapper). Short, because peers are
    sampled once a round and a whole download on loopback can take less than a second."""
    time.sleep(0.02)


def install_stop_handlers():
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    return stop


def seed(args):
    ses = lt.session({**settings(args.ip, args.port, args.upload_limit, args.transport), **encryption_settings(args.encryption)})
    if args.upload_limit:
        # libtorrent exempts local-network peers (all of loopback) from rate limits: put every
        # address in the global class only, so the limit applies to our loopback swarm.
        everyone = lt.ip_filter()
        everyone.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
        ses.set_peer_class_filter(everyone)
    h = add_torrent(ses, args, seeding=True)
    stats = Stats(args.status, args.ip, args.port, lt.torrent_info(args.torrent))
    stop = install_stop_handlers()
    ready, next_status = False, 0.0
    while not stop:
        pause()
        for a in ses.pop_alerts():
            stats.handle(a)
        stats.sample(h)  # often: a connection's counters vanish when it closes
        if not ready:
            st = h.status()
            seeding = st.is_seeding or st.is_finished
            if seeding and (args.no_tracker or stats.announced):
                ready = True
                print("READY", flush=True)
        if time.monotonic() >= next_status:
            next_status = time.monotonic() + 0.5
            stats.write(h, ready)
    stats.sample(h)
    stats.write(h, ready)
    return 0


def download(args):
    start = time.monotonic()
    ses = lt.session({**settings(args.ip, args.port, transport=args.transport), **encryption_settings(args.encryption)})
    h = add_torrent(ses, args, seeding=False)
    stats = Stats(args.status, args.ip, args.port, lt.torrent_info(args.torrent))
    stop = install_stop_handlers()
    peers = [(host, int(port)) for host, port in (p.rsplit(":", 1) for p in args.peer)]
    next_status = next_connect = 0.0
    complete = False
    finished_since = None
    print("STARTED", flush=True)
    while not stop:
        pause()
        for a in ses.pop_alerts():
            stats.handle(a)
        stats.sample(h)
        now = time.monotonic()
        if peers and now >= next_connect:
            next_connect = now + 2.0
            connected = {(p.ip[0], p.ip[1]) for p in h.get_peer_info()}
            for peer in peers:
                if peer not in connected:
                    h.connect_peer(peer)
        if now >= next_status:
            next_status = now + 0.5
            stats.write(h, True)
        st = h.status()
        if st.is_seeding or st.is_finished:
            finished_since = finished_since or now
        if not complete and (stats.finished_alert or
                             (finished_since and now - finished_since > 2.0)):
            complete = True
            stats.sample(h)
            data = stats.write(h, True)
            data["seconds"] = time.monotonic() - start
            print("COMPLETE", json.dumps(data), flush=True)
            if not args.keep_running:
                return 0
        if not complete and now - start > args.timeout:
            stats.sample(h)
            print("TIMEOUT", json.dumps(stats.write(h, True)), flush=True)
            return 1
    stats.sample(h)
    stats.write(h, True)
    return 0 if complete else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="role", required=True)
    for name in ("seed", "download"):
        p = sub.add_parser(name)
        p.add_argument("--ip", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--status", required=True)
        p.add_argument("--no-tracker", action="store_true")
        p.add_argument("--encryption", choices=("default", "forced", "disabled"), default="default")
        p.add_argument("--transport", choices=("tcp", "utp", "both"), default="tcp",
                       help="peer connections over TCP (default), uTP, or both")
        p.add_argument("torrent")
        p.add_argument("save_path")
    s = sub.choices["seed"]
    s.add_argument("--have-mask-file")
    s.add_argument("--upload-limit", type=int, default=0, help="bytes/s, 0 = unlimited")
    d = sub.choices["download"]
    d.add_argument("--peer", action="append", default=[], metavar="HOST:PORT")
    d.add_argument("--timeout", type=float, default=120)
    d.add_argument("--keep-running", action="store_true")
    args = ap.parse_args(argv)
    return seed(args) if args.role == "seed" else download(args)


if __name__ == "__main__":
    # A crash inside libtorrent shows the Python line that was running in the test's log.
    faulthandler.enable()
    sys.exit(main())
