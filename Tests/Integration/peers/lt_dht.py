#!/usr/bin/python3
"""libtorrent DHT nodes on loopback, for tests: one process, one libtorrent session per --node.

    lt_dht.py --node IP:PORT [--node ...] [--join IP:PORT ...] --status FILE
              [--seed TORRENT SAVE_PATH | --leech TORRENT SAVE_PATH | --leech-magnet URI SAVE_PATH]
              [--min-nodes N]

Every session runs a DHT node on IP:PORT ("[::1]:PORT" for an IPv6 node: BEP 32, its own DHT) (UDP; TCP on the same port for peers) with the settings
that let libtorrent's DHT work on loopback (issue 13): dht_restrict_routing_ips,
dht_restrict_search_ips, dht_ignore_dark_internet and dht_prefer_verified_node_ids off, and NO
bootstrap routers (libtorrent's default would be dht.libtorrent.org). The sessions are
introduced to each other and to every --join node with add_dht_node (a "router" would never
enter a routing table). Nothing here reaches beyond the given loopback addresses.

--seed: the first session seeds TORRENT from SAVE_PATH (no tracker: peers find it by the DHT).
--leech: the first session downloads TORRENT into SAVE_PATH, found by the DHT only; prints
"COMPLETE {json}" when done and keeps seeding. --leech-magnet URI SAVE_PATH: the same from a
magnet link, printing "METADATA s" and "FIRST_PIECE s" (seconds since the sessions were made).

Prints "READY" once every session has at least --min-nodes nodes in its routing table, then runs
until SIGTERM. --status (JSON, twice a second): per node its address and routing-table size,
"announces" (every "ip:port" that sent one of our nodes an announce_peer); progress, peers and
where the payload came from (blocks of 16 KiB per "ip:port").
"""

import argparse
import json
import os
import signal
import sys
import time
import warnings

import libtorrent as lt

# session.status() is deprecated but is the one call that gives the routing table's size.
warnings.simplefilter("ignore", DeprecationWarning)


def settings(ip, port, announce_interval):
    return {
        "listen_interfaces": joined(ip, port),
        "outgoing_interfaces": ip,
        "enable_dht": True, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "dht_bootstrap_nodes": "",
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_ignore_dark_internet": False,
        "dht_prefer_verified_node_ids": False,
        "dht_announce_interval": announce_interval,
        "allow_multiple_connections_per_ip": True,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "unchoke_slots_limit": -1,
        "min_reconnect_time": 1,
        "peer_connect_timeout": 3,
        "user_agent": "swarmkit-dht/" + lt.__version__,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.dht_notification
        | lt.alert.category_t.block_progress_notification
        | lt.alert.category_t.piece_progress_notification,
    }


def endpoint(text):
    """"IP:PORT" or "[IPV6]:PORT" -> (ip, port)."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def joined(ip, port):
    """(ip, port) -> "IP:PORT", an IPv6 address in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", action="append", required=True)
    parser.add_argument("--join", action="append", default=[])
    parser.add_argument("--status", required=True)
    parser.add_argument("--seed", nargs=2, metavar=("TORRENT", "SAVE_PATH"))
    parser.add_argument("--leech", nargs=2, metavar=("TORRENT", "SAVE_PATH"))
    parser.add_argument("--leech-magnet", nargs=2, metavar=("URI", "SAVE_PATH"))
    parser.add_argument("--min-nodes", type=int, default=3)
    parser.add_argument("--announce-interval", type=int, default=3)
    args = parser.parse_args()

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))

    nodes = [endpoint(n) for n in args.node]
    started = time.monotonic()
    sessions = [lt.session(settings(ip, port, args.announce_interval)) for ip, port in nodes]
    everyone = nodes + [endpoint(j) for j in args.join]
    for ses, me in zip(sessions, nodes):
        for other in everyone:
            if other != me:
                ses.add_dht_node(other)

    handle = None
    role = None
    if args.leech_magnet:
        role = "leech"
        uri, save_path = args.leech_magnet
        os.makedirs(save_path, exist_ok=True)
        atp = lt.parse_magnet_uri(uri)
        atp.save_path = save_path
        handle = sessions[0].add_torrent(atp)
    elif args.seed or args.leech:
        role = "seed" if args.seed else "leech"
        torrent, save_path = args.seed or args.leech
        os.makedirs(save_path, exist_ok=True)
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(torrent)
        atp.save_path = save_path
        atp.trackers = []
        if role == "seed":
            atp.flags |= lt.torrent_flags.seed_mode
        handle = sessions[0].add_torrent(atp)
        handle.replace_trackers([])
    print("STARTED", flush=True)

    ready = False
    complete = False
    announces = set()  # "ip:port" that announced a torrent to one of our nodes
    first_piece = []
    sources = {}
    while not stopping:
        for ses in sessions:
            for alert in ses.pop_alerts():
                if isinstance(alert, lt.dht_announce_alert):
                    announces.add(joined(str(alert.ip), alert.port))
                elif isinstance(alert, lt.metadata_received_alert):
                    print(f"METADATA {time.monotonic() - started:.4f}", flush=True)
                elif isinstance(alert, lt.piece_finished_alert) and not first_piece:
                    first_piece.append(True)
                    print(f"FIRST_PIECE {time.monotonic() - started:.4f}", flush=True)
                elif isinstance(alert, lt.block_finished_alert):
                    # Exact: a connection's own counters vanish when it closes.
                    ep = alert.endpoint if hasattr(alert, "endpoint") else alert.ip
                    key = joined(str(ep[0]), ep[1])
                    sources[key] = sources.get(key, 0) + 16 * 1024
        counts = []
        for ses in sessions:
            counts.append(ses.status().dht_nodes)
        report = {"nodes": [{"ip": ip, "port": port, "dht_nodes": n}
                            for (ip, port), n in zip(nodes, counts)],
                  "role": role, "announces": sorted(announces)}
        if handle is not None:
            st = handle.status()
            report.update({"progress": st.progress, "finished": bool(st.is_seeding or st.is_finished),
                           "num_peers": st.num_peers, "downloaded_from": sources})
            if role == "leech" and not complete and (st.is_seeding or st.is_finished):
                complete = True
                print("COMPLETE " + json.dumps({"seconds": time.monotonic() - started,
                                                "downloaded_from": sources}), flush=True)
        with open(args.status + ".tmp", "w") as f:
            json.dump(report, f)
        os.replace(args.status + ".tmp", args.status)
        if not ready and min(counts) >= args.min_nodes:
            ready = True
            print("READY", flush=True)
        time.sleep(0.1 if not ready else 0.5)
    for ses in sessions:
        ses.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
