"""Interop between mproc connections and Python's multiprocessing.connection.

Usage: conn_interop.py PATH-TO-conn_peer

Runs the mproc peer as a Listener for Python's Client and as a Client of
Python's Listener, without and with an authkey, with a wrong key, with both
handshake forms (the {sha256} form of CPython 3.12+ is spoken here by hand
with Python's hmac module, so it is checked even on an older Python), and
echoes messages of many sizes up to 16 MiB each way.
"""
import hmac
import os
import subprocess
import sys
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener

PEER = sys.argv[1]
KEY = b"interop key"
SIZES = [0, 1, 8, 4095, 4096, 70000, 1 << 20, 16 << 20]
CHALLENGE, WELCOME, FAILURE = b"#CHALLENGE#", b"#WELCOME#", b"#FAILURE#"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


# An abstract-namespace address (Linux): mproc writes "@name", Python "\0name".
def to_py(addr):
    return "\0" + addr[1:] if addr.startswith("@") else addr


def to_mproc(addr):
    return "@" + addr[1:] if addr.startswith("\0") else addr


def peer(*args):
    return subprocess.Popen([PEER, *args], stdout=subprocess.PIPE, text=True)


def echo_all(conn, what):
    for n in SIZES:
        msg = os.urandom(n) if n < 100000 else bytes(range(256)) * (n // 256)
        conn.send_bytes(msg)
        back = conn.recv_bytes()
        if back != msg:
            check(False, f"{what}: echo of {n} bytes")
            return
    check(True, f"{what}: echo of {len(SIZES)} sizes up to 16 MiB")


def finish(p, want, what):
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    out = p.stdout.read().strip()
    check(p.returncode == want, f"{what}: mproc peer exit {p.returncode} ({out!r}), want {want}")


def mproc_listener(key, digest, client_key, what):
    p = peer("listen", key.decode() if key else "-", digest)
    addr = to_py(p.stdout.readline().strip())
    try:
        c = Client(addr, authkey=client_key)
    except AuthenticationError:
        check(key != client_key, f"{what}: Python Client refused")
        finish(p, 3, what)
        return
    check(key == client_key, f"{what}: Python Client connected")
    echo_all(c, what)
    c.close()
    finish(p, 0, what)


def mproc_client(key, listener_key, what):
    with Listener(family="AF_UNIX", authkey=listener_key) as l:
        p = peer("connect", key.decode() if key else "-", "sha256", to_mproc(l.address))
        try:
            c = l.accept()
        except AuthenticationError:
            check(key != listener_key, f"{what}: Python Listener refused")
            finish(p, 3, what)
            return
        check(key == listener_key, f"{what}: Python Listener accepted")
        echo_all(c, what)
        c.close()
        finish(p, 0, what)


# The {sha256} form of CPython 3.12+, spoken by hand.
def answer_sha256(c, key):
    msg = c.recv_bytes(256)
    assert msg.startswith(CHALLENGE + b"{sha256}") and len(msg) == 11 + 8 + 40, msg
    c.send_bytes(b"{sha256}" + hmac.new(key, msg[len(CHALLENGE):], "sha256").digest())
    return c.recv_bytes(256)


def deliver_sha256(c, key):
    msg = b"{sha256}" + os.urandom(40)
    c.send_bytes(CHALLENGE + msg)
    resp = c.recv_bytes(256)
    ok = resp == b"{sha256}" + hmac.new(key, msg, "sha256").digest()
    c.send_bytes(WELCOME if ok else FAILURE)
    return ok


def sha256_vs_mproc_listener():
    what = "{sha256} client -> mproc Listener"
    p = peer("listen", KEY.decode(), "sha256")
    c = Client(to_py(p.stdout.readline().strip()))
    check(answer_sha256(c, KEY) == WELCOME, what + ": our answer welcomed")
    check(deliver_sha256(c, KEY), what + ": mproc's answer verified")
    echo_all(c, what)
    c.close()
    finish(p, 0, what)
    what = "wrong {sha256} answer -> mproc Listener"
    p = peer("listen", KEY.decode(), "sha256")
    c = Client(to_py(p.stdout.readline().strip()))
    check(answer_sha256(c, b"wrong") == FAILURE, what + ": FAILURE sent")
    c.close()
    finish(p, 3, what)


def sha256_vs_mproc_client():
    what = "{sha256} Listener -> mproc Client"
    with Listener(family="AF_UNIX") as l:
        p = peer("connect", KEY.decode(), "sha256", to_mproc(l.address))
        c = l.accept()
        check(deliver_sha256(c, KEY), what + ": mproc's answer verified")
        check(answer_sha256(c, KEY) == WELCOME, what + ": our answer welcomed")
        echo_all(c, what)
        c.close()
        finish(p, 0, what)


mproc_listener(None, "sha256", None, "Python Client -> mproc Listener, no key")
mproc_listener(KEY, "sha256", KEY, "Python Client -> mproc Listener, key, {sha256} challenge")
mproc_listener(KEY, "md5", KEY, "Python Client -> mproc Listener, key, legacy challenge")
mproc_listener(KEY, "sha256", b"wrong", "Python Client -> mproc Listener, wrong key")
mproc_client(None, None, "mproc Client -> Python Listener, no key")
mproc_client(KEY, KEY, "mproc Client -> Python Listener, key")
mproc_client(b"wrong", KEY, "mproc Client -> Python Listener, wrong key")
sha256_vs_mproc_listener()
sha256_vs_mproc_client()
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
