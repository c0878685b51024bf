"""Does a chDB query (and an INSERT ... FROM Python(arrow)) release the GIL?  .venv/bin/python bench/chdb_gil.py
while the main thread runs the query; compare the count rate with an idle baseline."""
import tempfile
import threading
import time

import chdb
import pyarrow as pa

count = 0
stop = False
def counter():
    global count
    while not stop:
        count += 1

conn = chdb.connect(tempfile.mkdtemp())
cur = conn.cursor()
conn.query("CREATE TABLE t (a UInt64, s String) ENGINE = MergeTree ORDER BY a")
t = threading.Thread(target=counter); t.start()

def rate(fn, label):
    global count
    time.sleep(0.2)
    c0 = count; t0 = time.perf_counter(); fn(); t1 = time.perf_counter(); c1 = count
    print(f"{label}: {t1-t0:.3f} s, counter {(c1-c0)/(t1-t0)/1e6:.2f} M/s")

rate(lambda: time.sleep(1.0), "idle (sleep)")
rate(lambda: conn.query("SELECT sum(cityHash64(number)) FROM numbers(300000000)"), "SELECT heavy")
table = pa.table({"a": pa.array(range(2_000_000), pa.uint64()), "s": pa.array([f"x{i}" for i in range(2_000_000)])})
rate(lambda: conn.query("INSERT INTO t SELECT * FROM Python(table)"), "INSERT FROM Python(arrow)")
stop = True; t.join()
