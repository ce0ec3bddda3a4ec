#!/usr/bin/python3
"""A web seed for tests (BEP 19): a static HTTP server of a folder, with single byte ranges.

    web_seed.py --ip IP --port PORT --root DIR [--mode honest|corrupt|no-range|missing]

honest    GET with `Range: bytes=A-B` answers 206 with exactly those bytes; without Range, 200.
corrupt   as honest, but every range's bytes are inverted (a lying web seed).
no-range  ignores Range: always 200 with the whole file (as some servers do).
missing   404 for every file.

Prints "READY" once listening, then one line per request: "GET <path> <range or ->  <status>".
Paths are confined to DIR. Runs until SIGTERM.
"""

import argparse
import os
import re
import signal
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ip", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--mode", default="honest", choices=["honest", "corrupt", "no-range", "missing"])
    args = parser.parse_args()
    root = os.path.realpath(args.root)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def answer(self, status, body=b"", headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            print(f"GET {self.path} {self.headers.get('Range', '-')} {status}", flush=True)

        def do_GET(self):
            path = os.path.realpath(os.path.join(root, urllib.parse.unquote(self.path.split("?")[0]).lstrip("/")))
            if args.mode == "missing" or not path.startswith(root + os.sep) or not os.path.isfile(path):
                return self.answer(404)
            size = os.path.getsize(path)
            match = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
            with open(path, "rb") as f:
                if match and args.mode != "no-range":
                    start, end = int(match.group(1)), min(int(match.group(2)), size - 1)
                    if start > end:
                        return self.answer(416, headers=[("Content-Range", f"bytes */{size}")])
                    f.seek(start)
                    body = f.read(end - start + 1)
                    if args.mode == "corrupt":
                        body = bytes(b ^ 0xFF for b in body)
                    return self.answer(206, body, [("Content-Range", f"bytes {start}-{end}/{size}")])
                self.answer(200, f.read())

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            # A client that hangs up mid-body (a cancelled range) is not an error here.
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                super().handle_error(request, client_address)

    server = Server((args.ip, args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
