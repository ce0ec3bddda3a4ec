"""The HTTP server (`swarmfs serve`, `mount --http`): Range requests byte-exact with curl and
Python, HEAD, 416, path attacks, a torrent still downloading streamed over HTTP (ffprobe, mpv),
cancellation of a dropped request, a library, and the web page in headless Chromium."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from swarmkit import make_multi_payload, make_single_payload, make_torrent
from swarmkit.payload import Payload, PayloadFile
from swarmkit.waiting import wait_until

MiB = 1024 * 1024


class Served:
    """A running `swarmfs serve`: `.host`, `.port`, `.base` (http://host:port)."""

    def __init__(self, proc, host, port):
        self.proc, self.host, self.port = proc, host, port
        self.base = f"http://{host}:{port}"

    def request(self, method, path, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def status(self):
        with urllib.request.urlopen(self.base + "/status.json", timeout=10) as r:
            return json.load(r)


@pytest.fixture
def serve(swarmfs_bin, procs, pool):
    """Factory: `serve(source, *extra)` -> Served, once it printed its address."""
    def make(source, *extra, timeout=60.0):
        host, port = pool.ip(), pool.port()
        path = source.path if hasattr(source, "path") else str(source)
        proc = procs.spawn("swarmfs-serve", [swarmfs_bin, "serve", path, "--http", f"{host}:{port}",
                                             "--listen-port", str(pool.port()), "--listen-host", host,
                                             *map(str, extra)])
        proc.wait_for_output(r"serving http://", timeout)
        return Served(proc, host, port)
    return make


def file_url(t, rel):
    return "/t/" + t.info_hash + "/" + "/".join(urllib.request.quote(c, safe="") for c in rel.split("/"))


def curl(*args):
    r = subprocess.run(["curl", "-s", "--max-time", "60", *args], capture_output=True, timeout=90)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def complete(serve, workdir):
    """A multi-file payload served from its complete folder (--download none)."""
    payload = make_multi_payload(os.path.join(workdir, "seed"),
                                 layout=[("video/film.mkv", 3 * MiB + 4321), ("notes.txt", 1000),
                                         ("empty.bin", 0), ("page.html", 300)], name="Show")
    t = make_torrent(payload, 64 * 1024, [], out_path=os.path.join(workdir, "show.torrent"))
    return serve(t, "--cache-dir", payload.save_path, "--download", "none"), t, payload


def test_every_range_case_is_byte_exact_with_python_and_curl(complete):
    s, t, payload = complete
    f = payload.file("video/film.mkv")
    size = f.size
    url = file_url(t, f.path)
    data = payload.read(f)
    status, headers, body = s.request("GET", url)
    assert status == 200 and body == data
    assert headers["content-length"] == str(size)
    assert headers["accept-ranges"] == "bytes"
    assert headers["content-type"] == "video/x-matroska"
    assert headers["etag"] == f'"{t.info_hash}-0"'
    assert headers["last-modified"].endswith(" GMT")
    cases = {  # Range header -> expected slice
        "bytes=0-1": (0, 2), "bytes=0-0": (0, 1), "bytes=-500": (size - 500, size),
        "bytes=1000-": (1000, size), "bytes=65535-65537": (65535, 65538),
        f"bytes={size - 1}-": (size - 1, size), f"bytes=100-{size + 5000}": (100, size),
        f"bytes=-{size + 10}": (0, size), "bytes=131072-1179647": (131072, 1179648),
    }
    for header, (lo, hi) in cases.items():
        status, headers, body = s.request("GET", url, {"Range": header})
        assert status == 206, header
        assert body == data[lo:hi], header
        assert headers["content-range"] == f"bytes {lo}-{hi - 1}/{size}", header
        assert headers["content-length"] == str(hi - lo)
        assert curl("-r", header.removeprefix("bytes="), s.base + url) == data[lo:hi], header
    for header in (f"bytes={size}-", f"bytes={size + 100}-{size + 200}", "bytes=-0"):
        status, headers, body = s.request("GET", url, {"Range": header})
        assert status == 416, header
        assert headers["content-range"] == f"bytes */{size}"
        assert body == b""
    # Several ranges, or a header we do not understand: the whole file with 200 (documented).
    for header in ("bytes=0-1,5-9", "bytes=5-2", "pages=1-2"):
        status, _, body = s.request("GET", url, {"Range": header})
        assert status == 200 and body == data, header
    # HEAD: the same headers, no body.
    status, headers, body = s.request("HEAD", url, {"Range": "bytes=10-19"})
    assert status == 206 and body == b"" and headers["content-length"] == "10"
    out = curl("-I", s.base + url).decode()
    assert out.startswith("HTTP/1.1 200") and f"Content-Length: {size}" in out
    # Conditionals.
    assert s.request("GET", url, {"If-None-Match": f'"{t.info_hash}-0"'})[0] == 304
    stale = s.request("GET", url, {"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale[0] == 200 and stale[2] == data
    # Other files: text, empty, and HTML that must never be served as HTML.
    assert s.request("GET", file_url(t, "Show/notes.txt"))[1]["content-type"].startswith("text/plain")
    status, headers, body = s.request("GET", file_url(t, "Show/empty.bin"))
    assert status == 200 and body == b"" and headers["content-length"] == "0"
    status, headers, _ = s.request("GET", file_url(t, "Show/page.html"))
    assert headers["content-type"].startswith("text/plain") and headers["x-content-type-options"] == "nosniff"
    # Keep-alive: many requests over one connection stay exact.
    conn = http.client.HTTPConnection(s.host, s.port, timeout=30)
    for lo in range(0, size, 700_001):
        conn.request("GET", url, headers={"Range": f"bytes={lo}-{lo + 99}"})
        r = conn.getresponse()
        assert r.status == 206 and r.read() == data[lo:lo + 100]
    conn.close()


def test_path_attacks_are_refused_and_unknown_names_are_404(complete):
    s, t, _ = complete
    h = t.info_hash
    for attack in (f"/t/{h}/../../etc/passwd", f"/t/{h}/Show/%2e%2e/%2e%2e/etc/passwd",
                   f"/t/{h}/Show%2Fnotes.txt", f"/t/{h}/Show/notes.txt%00.mkv", f"/t/{h}/Show//notes.txt",
                   f"/t/{h}/Show/%zz", f"/t/{h}/Show/a%5c..%5cb", "/../status.json"):
        status, _, _ = s.request("GET", attack)
        assert status == 400, attack
        out = curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", s.base + attack)
        assert out == b"400", attack
    for missing in (f"/t/{h}/Show/nothere.mkv", f"/t/{'0' * 40}/x", f"/t/{'0' * 40}.m3u", "/nothing",
                    f"/t/{h}/notes.txt"):
        assert s.request("GET", missing)[0] == 404, missing
    assert s.request("POST", "/status.json")[0] == 405


def test_status_playlists_and_page(complete):
    s, t, payload = complete
    doc = s.status()
    assert [x["infoHash"] for x in doc["torrents"]] == [t.info_hash]
    assert doc["torrents"][0]["verifiedBytes"] == 0 or doc["torrents"][0]["totalLength"] == payload.total_size
    assert {f["path"] for f in doc["torrents"][0]["files"]} == {f.path for f in payload.files}
    conn = http.client.HTTPConnection(s.host, s.port, timeout=10)
    conn.request("GET", f"/t/{t.info_hash.upper()}.m3u", headers={"Host": "tv.example:8123"})
    r = conn.getresponse()
    lines = r.read().decode().splitlines()
    assert lines[0] == "#EXTM3U"
    assert f"http://tv.example:8123/t/{t.info_hash}/Show/video/film.mkv" in lines
    assert not any("notes.txt" in line for line in lines)
    all_list = urllib.request.urlopen(s.base + "/playlist.m3u", timeout=10).read().decode()
    assert f"{s.base}/t/{t.info_hash}/Show/video/film.mkv" in all_list
    status, headers, body = s.request("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"/app.js" in body
    for asset in ("/app.js", "/style.css"):
        assert s.request("GET", asset)[0] == 200


def make_media_payload(save_path, name="Movies", seconds=12):
    """A folder with a VP8 WebM and an H.264 MP4 made by ffmpeg (real, seekable media)."""
    folder = os.path.join(save_path, name)
    os.makedirs(folder, exist_ok=True)
    src = ["-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=320x240:rate=25"]
    made = [("clip.webm", ["-c:v", "libvpx", "-b:v", "400k", "-g", "25"]),
            ("clip.mp4", ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                          "-movflags", "+faststart", "-g", "25"])]
    files = []
    for fname, codec in made:
        out = os.path.join(folder, fname)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *src, *codec, out],
                       check=True, timeout=120)
        with open(out, "rb") as fh:
            sha = hashlib.sha256(fh.read()).hexdigest()
        files.append(PayloadFile(f"{name}/{fname}", fname, os.path.getsize(out), sha))
    return Payload(save_path, name, True, files)


@pytest.mark.timeout(240)
def test_a_torrent_still_downloading_streams_over_http(serve, lt_seeder, workdir):
    payload = make_media_payload(os.path.join(workdir, "seed"), seconds=30)
    big = make_single_payload(os.path.join(workdir, "big"), size=6 * MiB, name="big.bin")
    t = make_torrent(payload, 16 * 1024, [], out_path=os.path.join(workdir, "m.torrent"))
    tb = make_torrent(big, 16 * 1024, [], out_path=os.path.join(workdir, "b.torrent"))
    # Slow seeders: the files are far from complete when the players start.
    seeder = lt_seeder(t, payload.save_path, use_tracker=False, upload_limit=400 * 1024)
    seeder_big = lt_seeder(tb, big.save_path, use_tracker=False, upload_limit=1500 * 1024)
    s = serve(t, "--cache-dir", os.path.join(workdir, "cache"), "--download", "on-demand",
              "--peer", seeder.endpoint, "--no-trackers")
    webm = payload.file("clip.webm")
    url = s.base + file_url(t, webm.path)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name",
                            "-of", "json", url], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    info = json.loads(probe.stdout)
    assert info["streams"][0]["codec_name"] == "vp8"
    assert abs(float(info["format"]["duration"]) - 30) < 1.5
    first = s.status()["torrents"][0]
    assert first["verifiedBytes"] < first["totalLength"], "the torrent was already complete"
    mp4 = s.base + file_url(t, payload.file("clip.mp4").path)
    played = subprocess.run(["mpv", "--no-config", "--vo=null", "--ao=null", "--really-quiet",
                             "--start=10", "--length=2", mp4], capture_output=True, text=True, timeout=120)
    assert played.returncode == 0, played.stderr
    # A whole file over HTTP while it downloads, byte-exact (curl) — the other torrent.
    sb = serve(tb, "--cache-dir", os.path.join(workdir, "cache-big"), "--peer", seeder_big.endpoint,
               "--no-trackers")
    got = curl(sb.base + file_url(tb, "big.bin"))
    assert hashlib.sha256(got).hexdigest() == big.files[0].sha256


def test_a_magnet_link_is_served_once_its_metadata_arrives(serve, lt_seeder, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=1 * MiB + 5, name="m.mp4")
    t = make_torrent(payload, 32 * 1024, [], out_path=os.path.join(workdir, "m.torrent"))
    seeder = lt_seeder(t, payload.save_path, use_tracker=False)
    s = serve(f"magnet:?xt=urn:btih:{t.info_hash}&dn=m.mp4", "--cache-dir", os.path.join(workdir, "cache"),
              "--peer", seeder.endpoint, "--no-trackers")
    assert curl(s.base + file_url(t, "m.mp4")) == payload.read(payload.files[0])
    assert s.status()["torrents"][0]["name"] == "m.mp4"


def test_a_dropped_request_cancels_its_waiting_read(serve, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=2 * MiB, name="a.bin")
    t = make_torrent(payload, 64 * 1024, [], out_path=os.path.join(workdir, "a.torrent"))
    # No peer at all: a read waits for ever, until its client goes away.
    s = serve(t, "--cache-dir", os.path.join(workdir, "cache"), "--no-trackers", "--download", "on-demand")
    sock = socket.create_connection((s.host, s.port), timeout=10)
    sock.sendall(f"GET {file_url(t, 'a.bin')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    wait_until(lambda: s.status()["torrents"][0]["pendingReads"] >= 1, 20)
    sock.close()
    wait_until(lambda: s.status()["torrents"][0]["pendingReads"] == 0, 20)
    # 200 idle connections are held, and the server still answers.
    idle = [socket.create_connection((s.host, s.port), timeout=10) for _ in range(200)]
    try:
        assert s.request("GET", "/status.json")[0] == 200
    finally:
        for c in idle:
            c.close()
    # SIGTERM: a clean exit.
    s.proc.popen.terminate()
    assert s.proc.wait(15) == 0


def test_mount_with_http_serves_the_same_bytes(swarmfs_mount, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=2 * MiB + 77, name="one.mkv")
    t = make_torrent(payload, 64 * 1024, [], out_path=os.path.join(workdir, "one.torrent"))
    host, port = pool.ip(), pool.port()
    m = swarmfs_mount(t, "--download", "none", "--http", f"{host}:{port}", cache_dir=payload.save_path)
    via_http = curl(f"http://{host}:{port}" + file_url(t, "one.mkv"))
    with open(m.join("one.mkv"), "rb") as f:
        assert f.read() == via_http == payload.read(payload.files[0])


def test_a_magnet_mount_with_http_serves_once_the_metadata_arrives(swarmfs_mount, lt_seeder, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=1 * MiB + 9, name="clip.mp4")
    t = make_torrent(payload, 32 * 1024, [], out_path=os.path.join(workdir, "clip.torrent"))
    seeder = lt_seeder(t, payload.save_path, use_tracker=False)
    host, port = pool.ip(), pool.port()
    link = f"magnet:?xt=urn:btih:{t.info_hash}&dn=clip.mp4&x.pe={seeder.endpoint}"
    m = swarmfs_mount(link, "--no-trackers", "--listen-host", pool.ip(), "--http", f"{host}:{port}")
    base = f"http://{host}:{port}"
    wait_until(lambda: len(json.loads(urllib.request.urlopen(base + "/status.json", timeout=10).read())["torrents"]) == 1,
               30, message="the torrent never appeared over HTTP")
    assert curl(base + file_url(t, "clip.mp4")) == payload.read(payload.files[0])
    with open(m.join("clip.mp4"), "rb") as f:
        assert f.read() == payload.read(payload.files[0])


def test_a_library_is_served_with_every_torrent(serve, workdir):
    lib = os.path.join(workdir, "lib")
    os.makedirs(lib)
    a = make_single_payload(os.path.join(workdir, "cache-root-src", "a"), size=300_000, name="a.mp4")
    b = make_multi_payload(os.path.join(workdir, "cache-root-src", "b"),
                           layout=[("x.mkv", 200_000), ("y.txt", 10)], name="B")
    ta = make_torrent(a, 16 * 1024, [], out_path=os.path.join(lib, "a.torrent"))
    tb = make_torrent(b, 16 * 1024, [], out_path=os.path.join(lib, "b.torrent"))
    root = os.path.join(workdir, "cache-root")
    shutil.copytree(a.save_path, os.path.join(root, ta.info_hash))
    shutil.copytree(b.save_path, os.path.join(root, tb.info_hash))
    s = serve(lib, "--cache-dir", root, "--download", "none")
    wait_until(lambda: len(s.status()["torrents"]) == 2, 20)
    assert curl(s.base + file_url(ta, "a.mp4")) == a.read(a.files[0])
    assert curl("-r", "5-", s.base + file_url(tb, "B/x.mkv")) == b.read(b.file("x.mkv"), 5)
    playlist = curl(s.base + "/playlist.m3u").decode()
    assert "a.mp4" in playlist and "B/x.mkv" in playlist and "y.txt" not in playlist


def test_a_library_mount_with_http_serves_its_torrents(swarmfs_mount, pool, workdir):
    lib = os.path.join(workdir, "lib")
    os.makedirs(lib)
    a = make_single_payload(os.path.join(workdir, "src"), size=200_000, name="a.webm")
    ta = make_torrent(a, 16 * 1024, [], out_path=os.path.join(lib, "a.torrent"))
    root = os.path.join(workdir, "cache-root")
    shutil.copytree(a.save_path, os.path.join(root, ta.info_hash))
    host, port = pool.ip(), pool.port()
    m = swarmfs_mount(lib, "--download", "none", "--http", f"{host}:{port}", cache_dir=root)
    base = f"http://{host}:{port}"

    def listed():
        with urllib.request.urlopen(base + "/status.json", timeout=10) as r:
            return [t["infoHash"] for t in json.load(r)["torrents"]] == [ta.info_hash]
    wait_until(listed, 20)
    assert curl("-r", "100-", base + file_url(ta, "a.webm")) == a.read(a.files[0], 100)
    with open(m.join("a.webm", "a.webm"), "rb") as f:
        assert f.read() == a.read(a.files[0])


def chromium_works():
    try:
        r = subprocess.run(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--dump-dom",
                            "data:text/html,<p>ok</p>"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"chromium cannot run: {e}"
    return None if "<p>ok</p>" in r.stdout else f"chromium cannot render: {r.stderr[-300:]}"


@pytest.mark.timeout(240)
def test_the_page_lists_torrents_and_plays_and_seeks_in_chromium(serve, procs, pool, workdir):
    reason = chromium_works()
    if reason:
        pytest.skip(reason)
    from swarmkit.cdp import Browser
    payload = make_media_payload(os.path.join(workdir, "seed"), seconds=20)
    t = make_torrent(payload, 64 * 1024, [], out_path=os.path.join(workdir, "m.torrent"))
    s = serve(t, "--cache-dir", payload.save_path, "--download", "none")
    browser = Browser(procs, pool.port(), os.path.join(workdir, "chromium-profile"), s.base + "/")
    try:
        rows = wait_until(lambda: browser.evaluate(
            "[...document.querySelectorAll('tr.file a')].map(a => a.textContent)"), 30)
        assert set(rows) == {"Movies/clip.webm", "Movies/clip.mp4"}
        assert browser.evaluate("document.querySelector('section.torrent h2').textContent") == "Movies"
        # The progress bar is sized through the CSSOM (the page's CSP refuses inline styles).
        assert browser.evaluate("document.querySelector('.bar > div').style.width").endswith("%")
        browser.evaluate("document.querySelector('button.play[data-url$=\"clip.webm\"]').click()")
        wait_until(lambda: browser.evaluate("document.getElementById('player').currentTime") > 1.0, 60, 0.2,
                   "the video did not play")
        assert browser.evaluate("document.getElementById('player').error") is None
        browser.evaluate("document.getElementById('player').currentTime = 15")
        wait_until(lambda: browser.evaluate(
            "(p => !p.seeking && p.currentTime >= 15.2)(document.getElementById('player'))"), 60, 0.2,
            "the video did not continue after a seek")
        assert browser.evaluate("document.getElementById('player').error") is None
    finally:
        browser.close()
