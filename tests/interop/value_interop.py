"""Values between mproc and real Python programs.

Usage: value_interop.py PATH-TO-value_peer [--only]

Runs with the Python that starts it and then, when pyenv has them, again
under the oldest and the newest Python 3 it holds (a message says which
are missing), each run checking:
  - pickles Python writes with every protocol it has from 2 on, of objects
    of every kind mproc reads, decoded by mproc and written back with
    protocols 4 and 5: pickle.loads must give the same object;
  - a Python Client sending dicts, lists, tuples and sets to an mproc
    Listener with conn.send(obj) and reading the replies with conn.recv();
  - an mproc Client sending dict jobs to a Python Listener, which answers
    them with conn.send(obj).
--only skips the other Pythons.
"""
import glob
import os
import pickle
import struct
import subprocess
import sys
from multiprocessing.connection import Client, Listener

PEER = sys.argv[1]
KEY = b"value interop key"
# CPython 3.12 answers the {sha256} challenge; older ones only md5's.
DIGEST = "sha256" if sys.version_info >= (3, 12) else "md5"
WHO = "Python %d.%d" % sys.version_info[:2]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + WHO + ": " + what, flush=True)
    if not cond:
        failures.append(what)


def samples():
    shared = [1, 2, 3]
    return [
        None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31,
        2**40, -2**63, 2**63 - 1, 0.0, -0.0, 1.5, 1e300, float("inf"),
        "", "a", "données", "\U0001f600" * 100, "x" * 300, "y" * 70000,
        b"", b"\x00\xff", bytes(range(256)) * 300, bytearray(b"abc"),
        bytearray(), (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4, "five"),
        [], [1], list(range(2500)), {}, {"a": 1}, {i: str(i) for i in range(1500)},
        {"id": 3, "path": "a.txt", "tags": ["x", "y"], "where": ("h", 80)},
        {(1, "a"): [None, {"deep": [[[]]]}], 2.5: b"f", None: True, b"k": 0},
        set(), {1, 2, 3}, frozenset(), frozenset({"a", "b"}),
        {"s": {1, 2}, "f": frozenset({(1, 2)})},
        [shared, shared, {"again": shared}],
        [[[[[[[[[[1]]]]]]]]]],
    ]


def roundtrips(datas, proto):
    """mproc's answers to many pickles, one value_peer run: for each, the
    pickle it wrote back with `proto`, or ("error", name)."""
    frames = b"".join(struct.pack(">I", len(d)) + d for d in datas)
    r = subprocess.run([PEER, "roundtrips", str(proto)], input=frames,
                       stdout=subprocess.PIPE, timeout=120)
    out, at, answers = r.stdout, 0, []
    while at + 4 <= len(out):
        (n,) = struct.unpack(">I", out[at:at + 4])
        if n == 0xffffffff:
            (n,) = struct.unpack(">I", out[at + 4:at + 8])
            answers.append(("error", out[at + 8:at + 8 + n].decode()))
            at += 8 + n
        else:
            answers.append(out[at + 4:at + 4 + n])
            at += 4 + n
    return answers


def roundtrip():
    protos = [p for p in range(2, pickle.HIGHEST_PROTOCOL + 1)]
    objs = samples()
    for proto in protos:
        bad = []
        datas = [pickle.dumps(obj, protocol=proto) for obj in objs]
        # Python 3.6 and 3.7 read protocols up to 4 only
        for back_proto in (4, 5) if pickle.HIGHEST_PROTOCOL >= 5 else (4,):
            answers = roundtrips(datas, back_proto)
            if len(answers) != len(objs):
                bad.append("%d answers to %d pickles" % (len(answers), len(objs)))
                continue
            for obj, ans in zip(objs, answers):
                if isinstance(ans, tuple):
                    bad.append((repr(obj)[:60], ans[1]))
                    continue
                got = pickle.loads(ans)
                want = bytes(obj) if isinstance(obj, bytearray) else obj
                if got != want or type(got) != type(want):
                    bad.append((repr(obj)[:60], "decoded as " + repr(got)[:60]))
        check(not bad, "%d objects pickled with protocol %d read by mproc, "
              "written back with 4 and 5, equal for pickle.loads %s"
              % (len(objs), proto, bad[:3] if bad else ""))


def refused():
    l = []
    l.append(l)
    d = {}
    d["self"] = d
    hostile = [(os.system, "MP_EPROTO"), (l, "MP_EPROTO"), (d, "MP_EPROTO"),
               (2**64, "MP_EOVERFLOW"), (-2**63 - 1, "MP_EOVERFLOW"),
               (type, "MP_EPROTO"), (complex(1, 2), "MP_EPROTO")]
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        answers = roundtrips([pickle.dumps(o, protocol=proto) for o, _ in hostile], 4)
        got = [a[1] if isinstance(a, tuple) else "accepted" for a in answers]
        want = [w for _, w in hostile]
        check(got == want, "protocol %d: a function, cycles, ints past 64 bits, "
              "a class, a complex refused as %s (got %s)" % (proto, want, got))


def finish(p, what):
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    out = p.stdout.read().strip()
    check(p.returncode == 0, "%s: mproc peer exit %d (%r)" % (what, p.returncode, out))


def python_client_to_mproc_listener():
    what = "Python Client -> mproc Listener, conn.send(obj)/conn.recv()"
    p = subprocess.Popen([PEER, "listen", KEY.decode(), DIGEST],
                         stdout=subprocess.PIPE, universal_newlines=True)
    addr = p.stdout.readline().strip()
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    c = Client(addr, authkey=KEY)
    bad = []
    for obj in samples():
        c.send(obj)
        reply = c.recv()
        want = bytes(obj) if isinstance(obj, bytearray) else obj
        n = len(obj) if isinstance(obj, (str, bytes, bytearray, tuple, list, dict, set, frozenset)) else 0
        if str is type(obj):
            n = len(obj.encode("utf-8"))  # mproc counts a str's UTF-8 bytes
        if reply != {"got": want, "len": n}:
            bad.append(repr(obj)[:60])
    c.close()
    check(not bad, what + ": %d objects answered %s" % (len(samples()), bad[:3]))
    finish(p, what)


def mproc_client_to_python_listener():
    what = "mproc Client -> Python Listener, dict jobs"
    with Listener(family="AF_UNIX", authkey=KEY) as l:
        addr = l.address
        if addr.startswith("\0"):
            addr = "@" + addr[1:]
        p = subprocess.Popen([PEER, "connect", KEY.decode(), DIGEST, addr],
                             stdout=subprocess.PIPE, universal_newlines=True)
        c = l.accept()
        jobs = 0
        ok = True
        while True:
            job = c.recv()
            if job is None:
                break
            ok = ok and isinstance(job, dict) and job["id"] == jobs and \
                job["path"] == "données/a.txt" and job["raw"] == b"\x00\xff\x01" and \
                job["where"] == ("host", 8080, -1.25, None) and \
                job["tags"] == set(range(10)) and job["big"] == 2**40
            c.send({"echo": job, "sum": sum(job["nums"])})
            jobs += 1
        c.close()
        check(ok and jobs == 20, what + ": %d jobs of every kind read by Python" % jobs)
        finish(p, what)


def other_pythons():
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = []
    for d in glob.glob(os.path.join(root, "versions", "3.*")):
        exe = os.path.join(d, "bin", "python3")
        try:
            ver = tuple(int(x) for x in os.path.basename(d).split(".")[:2])
        except ValueError:
            continue
        if os.access(exe, os.X_OK):
            found.append((ver, exe))
    found.sort()
    if not found:
        print("skip other Pythons: no pyenv versions under " + root +
              " (the run above used only " + WHO + ")", flush=True)
        return []
    picks = [found[0], found[-1]] if len(found) > 1 else found
    return [exe for ver, exe in picks if ver != sys.version_info[:2]]


roundtrip()
refused()
python_client_to_mproc_listener()
mproc_client_to_python_listener()
if "--only" not in sys.argv:
    for exe in other_pythons():
        r = subprocess.run([exe, __file__, PEER, "--only"], timeout=600)
        check(r.returncode == 0, "the same checks under " + exe)
print("%d failure(s) for %s" % (len(failures), WHO))
sys.exit(1 if failures else 0)
