"""swarmkit: the helpers every swarmfs integration test uses.

Real peers on loopback (libtorrent, aria2c, opentracker, an adversarial seeder), deterministic
payloads and torrents, FUSE mounts that are always undone, and processes that are always stopped
by PID. The pytest fixtures in Tests/Integration/conftest.py wire these to each test.
"""

from .adversarial import MODES as ADVERSARIAL_MODES, AdversarialPeer
from .aria2 import Aria2Seeder, aria2c_leecher_argv
from .bencode import BencodeError, bdecode, bencode
from .cli import REPO_ROOT, default_swarmfs_bin, run_swarmfs
from .libtorrent_peers import LibtorrentLeecher, LibtorrentSeeder
from .mount import (Mount, MountFailed, fuse_daemon_pids, fusermount, is_fuse_mounted,
                    is_mounted, mounted, processes_naming)
from .netalloc import AddressPool
from .payload import (DEFAULT_MULTI_LAYOUT, KiB, MiB, Payload, PayloadFile, assert_tree_matches,
                      compare_tree, list_files, make_multi_payload, make_single_payload,
                      sha256_bytes, sha256_file)
from .procs import ManagedProcess, ProcessDied, ProcessGroup, pid_alive, stop_pid
from .swarm import Swarm, partial_mask
from .torrents import TorrentFile, make_torrent, piece_hashes
from .tracker import Opentracker, TrackerRefused
from .waiting import (Deadline, TimeoutExpired, call_with_deadline, port_open, wait_port,
                      wait_until)

__all__ = [
    "ADVERSARIAL_MODES", "AdversarialPeer", "Aria2Seeder", "aria2c_leecher_argv", "BencodeError", "bdecode", "bencode",
    "REPO_ROOT", "default_swarmfs_bin", "run_swarmfs", "LibtorrentLeecher", "LibtorrentSeeder",
    "Mount", "MountFailed", "fuse_daemon_pids", "fusermount", "is_fuse_mounted", "is_mounted",
    "mounted", "processes_naming", "AddressPool", "DEFAULT_MULTI_LAYOUT", "KiB", "MiB", "Payload", "PayloadFile",
    "assert_tree_matches", "compare_tree", "list_files", "make_multi_payload",
    "make_single_payload", "sha256_bytes", "sha256_file", "ManagedProcess", "ProcessDied",
    "ProcessGroup", "pid_alive", "stop_pid", "Swarm", "partial_mask", "TorrentFile",
    "make_torrent", "piece_hashes", "Opentracker", "TrackerRefused", "Deadline",
    "TimeoutExpired", "call_with_deadline", "port_open", "wait_port", "wait_until",
]
