"""Python's multiprocessing doing bench_sync's work (fork start method).
Prints nanoseconds per operation, one line per repetition.
Usage: py_sync.py OP N REPS
  OP  mutex (Value += 1 under its lock, 2 processes)
      atomic (RawValue += 1 with no lock: Python has no atomic add, so this
              is the lock-free speed of light of a Value, not a correct count)
      sem (uncontended acquire+release) | pingpong (round trip, 2 sems)"""
import multiprocessing as mp
import sys
import time


def locked(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def unlocked(v, n):
    for _ in range(n):
        v.value += 1


def pong(a, b, n):
    for _ in range(n):
        a.acquire()
        b.release()


def two_procs(ctx, fn, v, n):
    ps = [ctx.Process(target=fn, args=(v, n)) for _ in range(2)]
    t0 = time.perf_counter()
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return (time.perf_counter() - t0) * 1e9 / (2 * n)


def one(ctx, op, n):
    if op == "mutex":
        return two_procs(ctx, locked, ctx.Value("q", 0), n)
    if op == "atomic":
        return two_procs(ctx, unlocked, ctx.RawValue("q", 0), n)
    if op == "sem":
        s = ctx.Semaphore(1)
        t0 = time.perf_counter()
        for _ in range(n):
            s.acquire()
            s.release()
        return (time.perf_counter() - t0) * 1e9 / n
    a, b = ctx.Semaphore(0), ctx.Semaphore(0)
    p = ctx.Process(target=pong, args=(a, b, n))
    p.start()
    t0 = time.perf_counter()
    for _ in range(n):
        a.release()
        b.acquire()
    dt = time.perf_counter() - t0
    p.join()
    return dt * 1e9 / n


def main():
    op, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = mp.get_context("fork")
    for _ in range(reps):
        print(f"{one(ctx, op, n):.1f}", flush=True)


if __name__ == "__main__":
    main()
