#!/usr/bin/env python3
"""Writes azure_functions_2019_synthetic.csv: a made-up day of per-minute invocation counts in the
format of the public Azure Functions 2019 trace (Shahrad et al., ATC'20), for tests and examples.

Deterministic: only random.Random(seed).random() (Mersenne Twister, fixed by Python across versions
and platforms) is used, every other draw is derived from it here.

    python3 make_synthetic_azure.py [--out azure_functions_2019_synthetic.csv] [--seed 2019]
"""
import argparse
import hashlib
import math
import random

MINUTES = 1440


def hash_of(text):
    return hashlib.sha256(text.encode()).hexdigest()


class Draws:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def uniform(self):
        return self.rng.random()

    def normal(self):
        u1 = 1.0 - self.rng.random()  # (0, 1]: safe under log
        u2 = self.rng.random()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def poisson(self, mean):
        if mean <= 0:
            return 0
        if mean > 50:  # normal approximation: exact enough for counts this large
            return max(0, round(mean + math.sqrt(mean) * self.normal()))
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= self.uniform()
            if p <= limit:
                return k
            k += 1


def diurnal(minute, peak_minute=14 * 60, depth=0.6):
    """1 + depth at the peak, 1 - depth twelve hours away."""
    return 1.0 + depth * math.cos(2.0 * math.pi * (minute - peak_minute) / MINUTES)


def functions(d):
    """(trigger, per-minute counts) for each synthetic function."""
    out = []
    # Web front end: a smooth day, busiest mid-afternoon.
    out.append(("http", [d.poisson(300 * diurnal(m)) for m in range(MINUTES)]))
    # A smaller HTTP API with a deeper night trough and a morning peak.
    out.append(("http", [d.poisson(40 * diurnal(m, peak_minute=10 * 60, depth=0.9)) for m in range(MINUTES)]))
    # Timer: every 5 seconds, exactly.
    out.append(("timer", [12] * MINUTES))
    # Queue consumer: quiet, with bursts of 5-30 minutes at a high rate (an on-off process).
    counts, burst_left = [], 0
    for _ in range(MINUTES):
        if burst_left == 0 and d.uniform() < 0.01:
            burst_left = 5 + int(d.uniform() * 26)
        counts.append(d.poisson(800 if burst_left else 5))
        burst_left = max(0, burst_left - 1)
    out.append(("queue", counts))
    # Event handler with heavy-tailed minutes (log-normal rate, median ~60).
    out.append(("event", [d.poisson(60 * math.exp(1.2 * d.normal())) for _ in range(MINUTES)]))
    # Rarely used: most minutes see nothing.
    out.append(("others", [d.poisson(8) if d.uniform() < 0.05 else 0 for _ in range(MINUTES)]))
    # Growing through the day, 10 to 1000 per minute.
    out.append(("http", [d.poisson(10 * 100 ** (m / (MINUTES - 1))) for m in range(MINUTES)]))
    # Storage: a batch job on the hour, background trickle otherwise.
    out.append(("storage", [d.poisson(2000 if m % 60 == 0 else 20) for m in range(MINUTES)]))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="azure_functions_2019_synthetic.csv")
    parser.add_argument("--seed", type=int, default=2019)
    args = parser.parse_args()
    d = Draws(args.seed)
    with open(args.out, "w", newline="\n") as f:
        f.write("HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(m) for m in range(1, MINUTES + 1)) + "\n")
        for i, (trigger, counts) in enumerate(functions(d)):
            owner = hash_of(f"synthetic-owner-{i // 3}")
            app = hash_of(f"synthetic-app-{i // 2}")
            function = hash_of(f"synthetic-function-{i}")
            f.write(f"{owner},{app},{function},{trigger}," + ",".join(str(c) for c in counts) + "\n")


if __name__ == "__main__":
    main()
