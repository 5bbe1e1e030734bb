"""Python's multiprocessing doing bench_conn's work over a duplex Pipe:
  rt / rt1  N REPS: 8-byte round trips with an echoing child, microseconds
                    per round trip (rt1: pinned to CPU 0)
  tp / tp1  N REPS: a child sends N 64 KiB messages, GB/s
One number per line per repetition."""
import multiprocessing as mp
import os
import sys
import time


def echo(c, other):
    other.close()  # the parent's end, copied by fork: else no EOF ever
    try:
        while True:
            c.send_bytes(c.recv_bytes())
    except EOFError:
        pass


def sender(c, other, n):
    other.close()
    block = bytes(65536)
    for _ in range(n):
        c.send_bytes(block)


def main():
    mode, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if mode.endswith("1") and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    ctx = mp.get_context("fork")
    for _ in range(reps):
        a, b = ctx.Pipe()
        if mode.startswith("rt"):
            p = ctx.Process(target=echo, args=(b, a))
            p.start()
            b.close()
            m = b"12345678"
            t0 = time.perf_counter()
            for _ in range(n):
                a.send_bytes(m)
                a.recv_bytes()
            print((time.perf_counter() - t0) * 1e6 / n, flush=True)
        else:
            p = ctx.Process(target=sender, args=(b, a, n))
            p.start()
            b.close()
            buf = bytearray(65536)
            t0 = time.perf_counter()
            for _ in range(n):
                a.recv_bytes_into(buf)
            print(n * 65536 / (time.perf_counter() - t0) / 1e9, flush=True)
        a.close()
        p.join()


if __name__ == "__main__":
    main()
