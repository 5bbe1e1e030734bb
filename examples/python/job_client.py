"""A Python program that hands jobs to a C server (examples/job_server.c).

It knows nothing of mproc: it sends dicts with multiprocessing.connection's
Client, exactly as it would to a Python server, and reads dicts back.

    python3 job_client.py ADDRESS
"""
import sys
from multiprocessing.connection import Client

address = sys.argv[1]
if address.startswith("@"):  # Linux's abstract namespace, as mproc spells it
    address = "\0" + address[1:]

jobs = [{"id": i, "label": "job %d" % i, "numbers": list(range(i, i + 10 * (i + 1)))}
        for i in range(6)]
with Client(address) as conn:
    for job in jobs:
        conn.send(job)
    conn.send(None)  # no more jobs
    for job in jobs:
        reply = conn.recv()
        assert reply["id"] == job["id"], reply
        assert reply["sum"] == sum(job["numbers"]), reply
        assert reply["stats"] == (min(job["numbers"]), max(job["numbers"])), reply
        print("python: %s -> sum %d, (min, max) %r, by worker %d"
              % (reply["label"], reply["sum"], reply["stats"], reply["worker"]),
              flush=True)
print("python: all %d replies checked" % len(jobs), flush=True)
