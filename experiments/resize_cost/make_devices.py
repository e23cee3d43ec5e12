"""Writes one device description per row of variants.csv into OUT_DIR: devices/h100_sxm.json with
only name, full_name, timing.partition_create_us (the re-size cost) and that field's source changed,
so the simulated GPUs differ in nothing else.
    make_devices.py BASE.json variants.csv OUT_DIR"""
import csv
import json
import os
import sys


def main():
    base_path, variants_path, out_dir = sys.argv[1:4]
    with open(base_path) as f:
        base = json.load(f)
    os.makedirs(out_dir, exist_ok=True)
    with open(variants_path) as f:
        for row in csv.DictReader(f):
            d = json.loads(json.dumps(base))  # a deep copy
            d["name"] = row["name"]
            d["full_name"] = row["full_name"]
            d["timing"]["partition_create_us"] = float(row["partition_create_us"])
            d["sources"]["timing.partition_create_us"] = row["source"]
            d["sources"]["full_name"] = (base["sources"]["full_name"] + f"; this file is {os.path.relpath(base_path)} with "
                                         "only name, full_name and timing.partition_create_us changed "
                                         "(experiments/resize_cost/make_devices.py)")
            with open(os.path.join(out_dir, row["name"] + ".json"), "w") as out:
                json.dump(d, out, indent=2)
                out.write("\n")


if __name__ == "__main__":
    main()
