#!/usr/bin/python3
"""The ceiling for serving a complete file over HTTP on this machine: what nginx does for a
static file (`sendfile on`), in a few lines — one thread, GET of one path, the whole file with
Content-Length, sent by sendfile(2) in one call loop. Usage: sendfile_server.py HOST PORT FILE."""

import os
import socket
import sys


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    size = os.path.getsize(path)
    server = socket.create_server((host, port), reuse_port=False)
    while True:
        conn, _ = server.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                request += chunk
            if not request:
                continue
            try:
                conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode())
                with open(path, "rb") as f:
                    conn.sendfile(f)
            except OSError:
                pass  # the client left early (the time-to-first-byte probe does)


if __name__ == "__main__":
    main()
