"""Paper item 5 as capacity at SLO, from each mix's capacity.csv (dstack capacity): one group of bars
per mix, one bar per policy (its capacity, the largest load factor meeting the SLOs; a hatched bar
where only a bound is known). capacity.csv gathers every mix's rows; capacity_summary.json has
D-STACK's capacity over each policy's, per mix, and the largest (the paper's "up to" form)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "common"))
import figure  # noqa: E402
from figure import plt  # noqa: E402

out = sys.argv[1]
mixes = sorted(os.listdir(os.path.join(out, "runs")), key=lambda m: int(m[3:]))
rows = []
for mix in mixes:
    result = figure.read_json(os.path.join(out, "runs", mix, "capacity.json"))
    for p in result["policies"]:
        rows.append({"mix": mix, "policy": p["policy"], "capacity": p.get("capacity"),
                     "at_max_load": bool(p.get("at_max_load")), "max_load": result["provenance"]["max_load"],
                     "smallest_probe": min(q["load"] for q in p["probes"]),
                     "slo_attainment": p.get("slo_attainment_at_capacity"),
                     "goodput_rps": p.get("goodput_rps_at_capacity")})
keys = ["mix", "policy", "capacity", "at_max_load", "slo_attainment", "goodput_rps"]
with open(os.path.join(out, "capacity.csv"), "w") as f:
    f.write(",".join(keys) + "\n")
    for r in rows:
        f.write(",".join("" if r[k] is None else (f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k]))
                         for k in keys) + "\n")

policies = list(dict.fromkeys(r["policy"] for r in rows))
cap = {(r["mix"], r["policy"]): r for r in rows}
summary = {"definition": "capacity = the largest load factor (x the config's rates) at which >= 99% of all requests "
                         "and >= 97% of each model's meet their SLOs (dstack capacity); ratio = dstack's capacity "
                         "over the policy's, same arrivals scaled; null where either has none or only a bound",
           "ratios": {}}
for pol in policies:
    if pol == "dstack":
        continue
    per = {}
    for mix in mixes:
        d, b = cap.get((mix, "dstack")), cap.get((mix, pol))
        ok = d and b and d["capacity"] and b["capacity"] and not d["at_max_load"] and not b["at_max_load"]
        per[mix] = d["capacity"] / b["capacity"] if ok else None
    finite = [v for v in per.values() if v is not None]
    summary["ratios"][pol] = {"per_mix": per, "max": max(finite) if finite else None,
                              "min": min(finite) if finite else None}
with open(os.path.join(out, "capacity_summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")

fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(mixes)), 3.6))
width = 0.8 / len(policies)
for i, pol in enumerate(policies):
    for j, mix in enumerate(mixes):
        r = cap.get((mix, pol))
        if r is None:
            continue
        x = j + (i - (len(policies) - 1) / 2) * width
        if r["capacity"] is None:  # every probe failed: the bar marks the smallest load probed
            ax.bar(x, r["smallest_probe"], width, color="none", edgecolor=figure.POLICY_COLORS.get(pol), hatch="//")
            ax.text(x, r["smallest_probe"], "<", ha="center", va="bottom", fontsize=6)
            continue
        ax.bar(x, r["capacity"], width, color=figure.POLICY_COLORS.get(pol), label=pol if j == 0 else None,
               hatch="//" if r["at_max_load"] else None)
        if r["at_max_load"]:
            ax.text(x, r["capacity"], ">=", ha="center", va="bottom", fontsize=6)
ax.set_xticks(range(len(mixes)))
ax.set_xticklabels([f"{m} ({m[3:]} models)" for m in mixes])
ax.set_ylabel("capacity at SLO (load factor)")
ax.set_title("Load sustained within SLOs (99% of requests, 97% of each model's)", fontsize=9)
ax.legend(fontsize=7, ncol=4)
ax.grid(axis="y", alpha=0.3)
fig.tight_layout(rect=(0, 0.03, 1, 1))
figure.save(fig, out, "capacity")
