"""Python's multiprocessing doing bench_queue's work, with Queue or
SimpleQueue and the fork start method. Prints nanoseconds per item (per
one-way trip for "lat"), one line per repetition.
Usage: py_queue.py KIND MODE NPROD NCONS ITEMS SIZE REPS
  KIND  Queue | SimpleQueue
  MODE  flow (producers -> consumers) | lat (ping-pong, half a round trip)"""
import multiprocessing as mp
import sys
import time


def produce(q, n, size):
    item = b"x" * size
    for _ in range(n):
        q.put(item)


def consume(q, n):
    for _ in range(n):
        q.get()


def echo(a, b, n):
    for _ in range(n):
        b.put(a.get())


def flow(ctx, kind, nprod, ncons, items, size):
    q = getattr(ctx, kind)()
    t0 = time.perf_counter()
    ps = [ctx.Process(target=produce, args=(q, items // nprod, size))
          for _ in range(nprod)]
    cs = [ctx.Process(target=consume, args=(q, items // ncons))
          for _ in range(ncons - 1)]
    for p in ps + cs:
        p.start()
    consume(q, items // ncons)
    for p in ps + cs:
        p.join()
    return (time.perf_counter() - t0) * 1e9 / items


def lat(ctx, kind, items, size):
    a, b = getattr(ctx, kind)(), getattr(ctx, kind)()
    item = b"x" * size
    p = ctx.Process(target=echo, args=(a, b, items + 1))
    p.start()
    a.put(item)
    b.get()
    t0 = time.perf_counter()
    for _ in range(items):
        a.put(item)
        b.get()
    dt = time.perf_counter() - t0
    p.join()
    return dt * 1e9 / items / 2


def main():
    kind, mode = sys.argv[1], sys.argv[2]
    nprod, ncons, items, size, reps = map(int, sys.argv[3:8])
    ctx = mp.get_context("fork")
    for _ in range(reps):
        if mode == "flow":
            print(flow(ctx, kind, nprod, ncons, items, size), flush=True)
        else:
            print(lat(ctx, kind, items, size), flush=True)


if __name__ == "__main__":
    main()
