"""Python's multiprocessing doing bench_process's work: start n no-op
children, then join them; prints microseconds per process, one line per
repetition. Usage: py_process.py METHOD N REPS"""
import multiprocessing as mp
import sys
import time


def noop():
    pass


def main():
    method, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = mp.get_context(method)
    for _ in range(reps):
        t0 = time.perf_counter()
        ps = [ctx.Process(target=noop) for _ in range(n)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        print((time.perf_counter() - t0) * 1e6 / n, flush=True)


if __name__ == "__main__":
    main()
