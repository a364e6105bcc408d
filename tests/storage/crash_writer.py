"""Child process of the crash test: writes from many threads, reports each acknowledged write.

Prints ``<key> <revision>`` on stdout (flushed) only after the store acknowledged the write, i.e.
after it is durable; the parent kills this process with SIGKILL at a random moment.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from kcp_edge.storage import LmdbOptions, LmdbStore


def main() -> None:
    path, workers = Path(sys.argv[1]), int(sys.argv[2])
    store = LmdbStore.open(LmdbOptions(path=path, initial_map_size=1 << 20))  # small: grows
    out = threading.Lock()
    print("ready", flush=True)

    def work(n: int) -> None:
        seq = 0
        while True:
            seq += 1
            key = f"/crash/{n}/{seq:08d}".encode()
            result = store.create(key, (f"{n}:{seq}:" + "x" * 1000).encode())
            counter = f"/crash/counter/{n}".encode()
            cur = store.get(counter)
            if cur is None:
                store.create(counter, str(seq).encode())
            else:
                store.update(counter, str(seq).encode(), expected_revision=cur.mod_revision)
            with out:
                sys.stdout.write(f"{key.decode()} {result.revision}\n")
                sys.stdout.flush()

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
