#!/usr/bin/env python3
"""faultproxy.py — a fault-injecting proxy for the remote-store tests.

Listens on 127.0.0.1:PORT and forwards to 127.0.0.1:UPSTREAM. With --http it
reads each HTTP/1.1 request (headers and Content-Length body), answers it
with one upstream connection and closes the client connection afterwards
(`Connection: close`), so every request is one decision. With --tcp it
relays bytes both ways (for SFTP) and injects faults into the stream.

Faults, chosen per request (or per connection with --tcp) from a seeded
random generator, each with the probability given (default 0):
  --reset P      close the client connection at once (no answer)
  --stall P      hold the request for --stall-seconds, then close
  --error P      answer 500 or 503 without forwarding (HTTP only)
  --truncate P   forward, then send only part of the answer and close
Requests that reach the limit --max-faults stop being faulted; --after N
lets the first N requests through untouched. Every decision is printed to
the log (stderr) as one line, so a failing run can be replayed with the
same --seed.
"""
import argparse
import random
import socket
import ssl
import sys
import threading
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", type=int)
    ap.add_argument("upstream", type=int)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--http", action="store_true")
    mode.add_argument("--tcp", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    for f in ("reset", "stall", "error", "truncate"):
        ap.add_argument("--" + f, type=float, default=0.0)
    ap.add_argument("--stall-seconds", type=float, default=30.0)
    ap.add_argument("--after", type=int, default=0)
    ap.add_argument("--max-faults", type=int, default=1 << 30)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    return ap.parse_args()


class Decider:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.mu = threading.Lock()
        self.n = 0
        self.faults = 0

    def next(self, what):
        with self.mu:
            self.n += 1
            r = self.rng.random()
            fate = "pass"
            if self.n > self.a.after and self.faults < self.a.max_faults:
                acc = 0.0
                for f in ("reset", "stall", "error", "truncate"):
                    acc += getattr(self.a, f)
                    if r < acc:
                        fate = f
                        break
            if fate != "pass":
                self.faults += 1
            frac = self.rng.random()
            code = self.rng.choice((500, 503))
            n = self.n
        print(f"faultproxy: #{n} {fate} {what}", file=sys.stderr, flush=True)
        return fate, frac, code


def recv_until(sock, buf, marker):
    while marker not in buf:
        data = sock.recv(65536)
        if not data:
            return None
        buf += data
    return buf


def read_request(sock):
    """Returns (head bytes, body bytes) of one request, or None at EOF."""
    buf = recv_until(sock, b"", b"\r\n\r\n")
    if buf is None:
        return None
    head, _, rest = buf.partition(b"\r\n\r\n")
    length, expect = 0, False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            length = int(v.strip())
        elif k == b"expect" and v.strip().lower() == b"100-continue":
            expect = True
    # as a server does: else the client waits a second before each body
    if expect and len(rest) < length:
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    while len(rest) < length:
        data = sock.recv(min(1 << 20, length - len(rest)))
        if not data:
            return None
        rest += data
    return head, rest[:length]


def with_close(head):
    # (no Expect: the body goes along, and no interim answer comes back)
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith((b"connection:", b"expect:"))]
    return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n"


def read_all(sock):
    chunks = []
    while True:
        data = sock.recv(1 << 20)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def http_client(conn, a, decide):
    try:
        req = read_request(conn)
        if req is None:
            return
        head, body = req
        fate, frac, code = decide.next(head.split(b"\r\n", 1)[0].decode("latin-1"))
        if fate == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return
        if fate == "stall":
            time.sleep(a.stall_seconds)
            return
        if fate == "error":
            msg = b"injected fault"
            conn.sendall(b"HTTP/1.1 %d Injected\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (code, len(msg), msg))
            return
        up = socket.create_connection(("127.0.0.1", a.upstream))
        try:
            up.sendall(with_close(head) + body)
            answer = read_all(up)
        finally:
            up.close()
        if fate == "truncate":
            hdr_end = answer.find(b"\r\n\r\n") + 4
            body_len = len(answer) - hdr_end
            answer = answer[: hdr_end + int(body_len * frac)] if body_len > 0 else answer[: int(hdr_end * frac)]
        conn.sendall(answer)
    except OSError:
        pass
    finally:
        conn.close()


def pump(src, dst, limit):
    """Copies src to dst; stops after limit bytes (None: no limit)."""
    sent = 0
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if limit is not None and sent + len(data) > limit:
                dst.sendall(data[: limit - sent])
                break
            dst.sendall(data)
            sent += len(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def tcp_client(conn, a, decide):
    fate, frac, _ = decide.next("connection")
    if fate == "reset":
        conn.close()
        return
    if fate == "stall":
        time.sleep(a.stall_seconds)
        conn.close()
        return
    up = socket.create_connection(("127.0.0.1", a.upstream))
    # truncate: the answer stream stops after a random number of bytes
    limit = int(frac * (4 << 20)) if fate == "truncate" else None
    t = threading.Thread(target=pump, args=(conn, up, None), daemon=True)
    t.start()
    pump(up, conn, limit)
    t.join(5)
    conn.close()
    up.close()


def main():
    a = parse_args()
    decide = Decider(a)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(128)
    handler = http_client if a.http else tcp_client
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
    print(f"faultproxy: 127.0.0.1:{a.port} -> 127.0.0.1:{a.upstream} seed {a.seed}", file=sys.stderr, flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve_one, args=(handler, ctx, conn, a, decide), daemon=True).start()


def serve_one(handler, ctx, conn, a, decide):
    if ctx:
        try:
            conn = ctx.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()
            return
    handler(conn, a, decide)


if __name__ == "__main__":
    main()
