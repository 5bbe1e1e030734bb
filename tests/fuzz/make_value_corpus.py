#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_value (tests/fuzz/corpus/value/): pickles
of the kinds mp_val holds, nested and shared, with protocols 2 to 5, as
this Python writes them. Run from anywhere; the output is committed."""
import os
import pickle

shared = [1, "two"]
nested = [[[[1, [2.5, None]]]]]
OBJECTS = {
    "none": None,
    "bools": [True, False],
    "ints": [0, 1, -1, 255, 256, 65535, 65536, -(2**31), 2**31, 2**40,
             -(2**63), 2**63 - 1],
    "bigint": 2**100,
    "floats": [0.0, -0.0, 1.5, 1e308, float("inf"), float("nan")],
    "str": "h\u00e9llo \U0001f600",
    "long_str": "x" * 300,
    "bytes": b"\x00\x01\xff",
    "long_bytes": bytes(range(256)) * 2,
    "empty_bytes": b"",
    "bytearray": bytearray(b"ab\xff"),
    "tuples": ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4, 5)),
    "list": [1, "a", b"b", None, 2.0],
    "dict": {"a": 1, "b": [1, 2], "c": {"d": (1, 2)}, 1: "one", (1, "x"): 2},
    "set": {1, 2, "three", (4, 5)},
    "frozenset": frozenset({1, frozenset({2})}),
    "empty": [[], {}, (), set(), frozenset(), ""],
    "shared": [shared, shared, {"k": shared}],
    "nested": nested,
    "batch": list(range(1100)),
    "dict_batch": {str(i): i for i in range(1100)},
    "set_batch": set(range(1100)),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "corpus", "value")
    os.makedirs(out, exist_ok=True)
    for name, obj in sorted(OBJECTS.items()):
        for proto in (2, 3, 4, 5):
            with open(os.path.join(out, "%s-p%d" % (name, proto)), "wb") as f:
                f.write(pickle.dumps(obj, protocol=proto))


if __name__ == "__main__":
    main()
