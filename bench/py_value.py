"""Python doing bench_value's work. Prints one number per repetition.
Usage: py_value.py MODE N REPS
  dict  pickle.dumps + pickle.loads of the small mixed dict, µs per pair
  ints  the same for list(range(10000)), µs per pair
  rt    the small dict over a duplex Pipe to an echoing child with
        conn.send(obj) / conn.recv(), µs per round trip
  queue Queue.put + Queue.get of the small dict in one process, µs per pair
  qsmall the same for the tuple (12345, "done", 0.5)"""
import multiprocessing as mp
import pickle
import sys
import time


def small_dict():
    return {"id": 12345, "name": "worker-7", "path": "/data/input/part-00042.csv",
            "ok": True, "score": 0.875, "tags": ["alpha", "beta", "gamma", "delta"],
            "dims": (1920, 1080, 3), "owner": None,
            "meta": {"created": 1700000000, "size": 1048576,
                     "host": "node17.cluster.local", "retries": 2},
            "blob": bytes(64), "history": [1.5, 2.25, 3.0, 4.75, 5.5],
            "notes": "x" * 100}


def echo(c, other):
    other.close()
    try:
        while True:
            c.send(c.recv())
    except EOFError:
        pass


def main():
    mode, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    obj = list(range(10000)) if mode == "ints" else \
        (12345, "done", 0.5) if mode == "qsmall" else small_dict()
    ctx = mp.get_context("fork")
    for _ in range(reps):
        if mode in ("dict", "ints"):
            t0 = time.perf_counter()
            for _ in range(n):
                pickle.loads(pickle.dumps(obj, protocol=4))
            print((time.perf_counter() - t0) * 1e6 / n, flush=True)
        elif mode == "rt":
            a, b = ctx.Pipe()
            p = ctx.Process(target=echo, args=(b, a))
            p.start()
            b.close()
            t0 = time.perf_counter()
            for _ in range(n):
                a.send(obj)
                a.recv()
            print((time.perf_counter() - t0) * 1e6 / n, flush=True)
            a.close()
            p.join()
        else:
            q = ctx.Queue()
            t0 = time.perf_counter()
            for _ in range(n):
                q.put(obj)
                q.get()
            print((time.perf_counter() - t0) * 1e6 / n, flush=True)
            q.close()
            q.join_thread()


if __name__ == "__main__":
    main()
