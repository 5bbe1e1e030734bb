"""Python's multiprocessing doing bench_scale's work with the fork start
method; prints microseconds per operation, one line per repetition.
Usage: py_scale.py MODE N WORK REPS
  procs N 0 REPS      start N no-op processes, then join them (per process)
  queue N ITEMS REPS  N producers -> N consumers (the last is this process),
                      8-byte items, Queue (per item)
  pool N TASKS REPS   Pool(N).map(square, range(TASKS)), workers already
                      up (per task)"""
import multiprocessing as mp
import sys
import time


def noop():
    pass


def produce(q, n):
    for i in range(n):
        q.put(i)


def consume(q, n):
    for _ in range(n):
        q.get()


def square(x):
    return x * x


def procs(ctx, n):
    t0 = time.perf_counter()
    ps = [ctx.Process(target=noop) for _ in range(n)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return (time.perf_counter() - t0) * 1e6 / n


def queue(ctx, n, items):
    q = ctx.Queue()
    t0 = time.perf_counter()
    ps = [ctx.Process(target=produce, args=(q, items // n)) for _ in range(n)]
    ps += [ctx.Process(target=consume, args=(q, items // n))
           for _ in range(n - 1)]
    for p in ps:
        p.start()
    consume(q, items // n)
    for p in ps:
        p.join()
    return (time.perf_counter() - t0) * 1e6 / items


def pool(ctx, n, tasks):
    with ctx.Pool(n) as p:
        p.map(square, range(n), chunksize=1)
        t0 = time.perf_counter()
        p.map(square, range(tasks))
        return (time.perf_counter() - t0) * 1e6 / tasks


def main():
    mode = sys.argv[1]
    n, work, reps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    ctx = mp.get_context("fork")
    for _ in range(reps):
        if mode == "procs":
            print(procs(ctx, n), flush=True)
        elif mode == "queue":
            print(queue(ctx, n, work), flush=True)
        else:
            print(pool(ctx, n, work), flush=True)


if __name__ == "__main__":
    main()
