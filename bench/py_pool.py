"""Python's multiprocessing.Pool(2) doing bench_pool's work with the fork
start method. Prints nanoseconds per task, one line per repetition.
Usage: py_pool.py MODE TASKS REPS
  MODE  apply (apply_async of every task, then get of each)
        map1 (map with chunksize=1) | map (map, default chunksize)
        rtt (one apply_async(...).get() at a time)"""
import multiprocessing as mp
import sys
import time


def square(x):
    return x * x


def run(pool, mode, n):
    t0 = time.perf_counter()
    if mode == "apply":
        rs = [pool.apply_async(square, (i,)) for i in range(n)]
        for r in rs:
            r.get()
    elif mode == "map1":
        pool.map(square, range(n), chunksize=1)
    elif mode == "map":
        pool.map(square, range(n))
    else:
        for i in range(n):
            pool.apply_async(square, (i,)).get()
    return (time.perf_counter() - t0) * 1e9 / n


def main():
    mode, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        pool.map(square, range(100))  # warm: workers started
        for _ in range(reps):
            print(f"{run(pool, mode, n):.1f}", flush=True)


if __name__ == "__main__":
    main()
