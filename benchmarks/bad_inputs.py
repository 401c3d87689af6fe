#!/usr/bin/env python3
"""Hostile-input probe of the ``msrc`` command line.

Runs 235 hand-made bad inputs through the installed ``msrc`` command (the one
beside this Python interpreter), each in a
fresh temporary folder (a copy of ``models/`` and ``data/`` plus the case's
own files), and classifies what happened:

``clean``      non-zero exit, every stderr line starts with ``error:`` (known
               progress lines such as ``static: 25% of 30 steps`` or ``1/2
               points`` are ignored), no ``Traceback``, no new / modified /
               removed file and no leftover hidden ``.*.part`` file
``traceback``  a Python traceback was printed
``hang``       killed at the timeout (60 s)
``oom``        MemoryError / bad_alloc, or the process died from a signal
               (the signal is recorded: SIGSEGV is a crash, not memory)
``accepted``   exit 0 although the input is bad
``partial``    non-zero exit but a file was left behind / changed / removed
``other``      anything else (e.g. a click usage panel instead of ``error:``)
``ok``         exit 0 on a case marked ``valid`` (legitimate but extreme input:
               one-site networks, a 200-file extends chain, a CSV with a BOM);
               such a case may also end ``clean``
``setup-error`` the case could not be prepared (a fixture run failed)

Usage::

    python benchmarks/bad_inputs.py LABEL [--jobs N] [--only SUBSTR] [--keep]

writes ``benchmarks/results/bad-inputs-LABEL.json`` (a JSON list, one record per case)
and prints a summary. Each command runs with ``RLIMIT_AS`` = 4 GiB, a 60-s
timeout (its whole process group is killed then), cwd = its temp folder.
Cases marked ``unprivileged`` run as ``nobody`` when the probe runs as root
through ``setpriv`` with only CAP_DAC_READ_SEARCH kept (so that a read-only
folder is read-only, and ``-o /dev/full`` cannot replace the real device node). The probe is deterministic: fixed contents, fixed
random seeds, fixed order.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

MAIN = Path(__file__).resolve().parents[1]
MSRC = str(Path(sys.executable).with_name("msrc"))
HERE = MAIN / "benchmarks" / "results"
TIMEOUT_S = 60
MEMORY_BYTES = 4 << 30
NOBODY = 65534
IS_ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"

FAST = ["--set", "controller.max_duration_h=0.25", "--set", "run.strategies=[static]"]
FAST_MSRC = ["--set", "controller.max_duration_h=0.25", "--set", "run.strategies=[msrc]"]
PROGRESS = re.compile(r"^(\S+: \d+% of \d+ steps|\d+/\d+ points)$")

BANDS = (MAIN / "data" / "bands.csv").read_text()
POWER = (MAIN / "data" / "power_model.csv").read_text()
def csv_body(text: str) -> str:
    """``text`` without its comment lines."""
    return "".join(line + "\n" for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


SITES7 = "name,x_m,y_m\nA,0,0\nB,500,0\nC,250,433\nD,-250,433\nE,-500,0\nF,-250,-433\nG,250,-433\n"


# ---------------------------------------------------------------- cases


@dataclass
class Case:
    name: str
    cls: str
    args: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    valid: bool = False  # legitimate (if extreme) input: exit 0 is fine
    unprivileged: bool = False  # run as nobody when the probe is root
    needs: tuple[str, ...] = ()  # fixtures copied in (single.nc, sweep.nc)
    note: str = ""


CASES: list[Case] = []


def add(name: str, cls: str, args: list[str], files: dict | None = None, **kw) -> None:
    assert not any(c.name == name for c in CASES), name
    CASES.append(Case(name, cls, list(args), dict(files or {}), **kw))


def S(extra: str = "", base: str = "models/small.yaml") -> str:
    """A scenario extending the shipped small model, plus ``extra`` YAML."""
    return f"extends: {base}\n{extra}"


def _rewrite_rows(text: str, edit: Callable[[int, list[str]], list[str]]) -> str:
    """``text`` (a CSV with # comments) with each data row's cells passed through ``edit(k, cells)``, k = 0 the header."""
    out, k = [], 0
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            out.append(line)
            continue
        out.append(",".join(edit(k, line.split(","))))
        k += 1
    return "\n".join(out) + "\n"


def csv_set(text: str, row: str, column: str, value: str) -> str:
    """``text`` with one cell replaced."""
    header: list[str] = []

    def edit(k: int, cells: list[str]) -> list[str]:
        if k == 0:
            header.extend(cells)
        elif cells[0] == row:
            cells[header.index(column)] = value
        return cells

    return _rewrite_rows(text, edit)


def csv_drop_column(text: str, column: str) -> str:
    index: list[int] = []

    def edit(k: int, cells: list[str]) -> list[str]:
        if k == 0:
            index.append(cells.index(column))
        del cells[index[0]]
        return cells

    return _rewrite_rows(text, edit)


def csv_add_column(text: str, column: str, value: str) -> str:
    return _rewrite_rows(text, lambda k, cells: [*cells, value if k else column])


def solve(scenario: str = "s.yaml", *extra: str, fast: list[str] | None = None, out: str = "out.nc") -> list[str]:
    return ["solve", scenario, *(FAST if fast is None else fast), *extra, "-o", out]


def mkfifo(name: str) -> Callable[[Path], None]:
    return lambda d: os.mkfifo(d / name)


def mkdir(name: str, mode: int = 0o755) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / name).mkdir()
        os.chmod(d / name, mode)

    return make


def chain(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def run(d: Path) -> None:
        for step in steps:
            step(d)

    return run


# ---- YAML ------------------------------------------------------------------
Y = "yaml"
V = ["validate", "s.yaml"]
add("tag-int-abc", Y, V, {"s.yaml": S("seed: !!int abc\n")})
add("tag-float-x", Y, V, {"s.yaml": S("traffic:\n  load: !!float x\n")})
add("tag-timestamp-soon", Y, V, {"s.yaml": S("description: !!timestamp soon\n")})
add("tag-bool-maybe", Y, V, {"s.yaml": S("ev:\n  enabled: !!bool maybe\n")})
add("tag-python-object-apply", Y, V, {"s.yaml": S('seed: !!python/object/apply:os.system ["touch pwned"]\n')})
add("tag-python-name", Y, V, {"s.yaml": S("name: !!python/name:os.system\n")})
add("tag-binary-for-str", Y, V, {"s.yaml": S("name: !!binary aGVsbG8=\n")})
add("tag-binary-invalid-base64", Y, V, {"s.yaml": S("name: !!binary '%%%'\n")})
add("tag-set-for-str", Y, V, {"s.yaml": S("name: !!set {a, b}\n")})
add("tag-set-for-list", Y, V, {"s.yaml": S("run:\n  strategies: !!set {static, msrc}\n")})
add("tag-unknown-local", Y, V, {"s.yaml": S("seed: !foo 3\n")})
add("tag-pairs-for-section", Y, V, {"s.yaml": S("traffic: !!pairs [[users, 5]]\n")})
add("alias-self-reference-list", Y, V, {"s.yaml": S("description: &a [*a]\n")})
add("alias-self-reference-map", Y, V, {"s.yaml": S("traffic: &t {classes: *t}\n")})
_bomb = ["description:", "  - &a0 lol"] + [f"  - &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
add("alias-bomb-9x9", Y, V, {"s.yaml": S("\n".join(_bomb) + "\n")})
add("deep-nesting-flow-10000", Y, V, {"s.yaml": S("description: " + "[" * 10000 + "]" * 10000 + "\n")})
add("deep-nesting-unclosed-10000", Y, V, {"s.yaml": S("description: " + "[" * 10000 + "\n")})
add("deep-nesting-block-1000", Y, V, {"s.yaml": S("variants:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(1000)) + " " * 1001 + "x: 1\n")})
add("yaml-5mb-unknown-key-list", Y, V, {"s.yaml": S("junk:\n" + "- 1234567\n" * 520000)})
add("yaml-5mb-150k-variants", Y, V, {"s.yaml": S("variants:\n" + "".join(f"  v{i}: {{traffic: {{load: 1.{i % 10}}}}}\n" for i in range(150000)))})
add("duplicate-key-top", Y, V, {"s.yaml": S("seed: 1\nseed: 2\n")})
add("duplicate-key-nested", Y, V, {"s.yaml": S("traffic:\n  users: 10\n  users: 20\n")})
add("duplicate-key-in-variant", Y, V, {"s.yaml": S("variants:\n  x:\n    seed: 1\n    seed: 2\n")})
add("top-level-list", Y, V, {"s.yaml": "- a\n- b\n"})
add("top-level-scalar", Y, V, {"s.yaml": "hello\n"})
add("multi-document", Y, V, {"s.yaml": S("seed: 1\n") + "---\nseed: 2\n"})
add("tab-indentation", Y, V, {"s.yaml": S("network:\n\trings: 1\n")})
add("binary-garbage", Y, V, {"s.yaml": random.Random(1).randbytes(4096)})
add("non-utf8-latin1", Y, V, {"s.yaml": S("name: caf\xe9\n").encode("latin-1")})
add("utf16-with-bom", Y, V, {"s.yaml": S("name: x\n").encode("utf-16")})
add("nul-byte-in-yaml", Y, V, {"s.yaml": S("name: a\x00b\n")})
add("empty-file", Y, V, {"s.yaml": ""})
add("non-string-key", Y, V, {"s.yaml": S("1: x\n")})
add("complex-key", Y, V, {"s.yaml": S("? [a, b]\n: 1\n")})


def _extends_chain(n: int) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / "chain").mkdir()
        for i in range(n):
            parent = f"c{i + 1}.yaml" if i + 1 < n else "../models/small.yaml"
            (d / "chain" / f"c{i}.yaml").write_text(f"extends: {parent}\nseed: {i}\n")

    return make


add("extends-chain-200", Y, ["validate", "chain/c0.yaml"], setup=_extends_chain(200), valid=True)
add("extends-chain-3000", Y, ["validate", "chain/c0.yaml"], setup=_extends_chain(3000), valid=True)
add("extends-cycle-2", Y, ["validate", "a.yaml"], {"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"})
add("extends-self", Y, V, {"s.yaml": "extends: s.yaml\n"})
add("extends-directory", Y, V, {"s.yaml": "extends: data\n"})
add("extends-int", Y, V, {"s.yaml": "extends: 5\n"})
add("extends-empty-string", Y, V, {"s.yaml": "extends: ''\n"})
add("extends-list", Y, V, {"s.yaml": "extends: [models/small.yaml]\n"})
add("extends-missing", Y, V, {"s.yaml": "extends: nope.yaml\n"})
add("extends-binary-file", Y, V, {"s.yaml": "extends: g.bin\n", "g.bin": random.Random(2).randbytes(2048)})
add("extends-dev-zero", Y, V, {"s.yaml": "extends: /dev/zero\n"})
add("extends-fifo", Y, V, {"s.yaml": "extends: fifo\n"}, setup=mkfifo("fifo"))
add("scenario-is-dev-zero", Y, ["validate", "/dev/zero"])
add("scenario-is-directory", Y, ["validate", "data"])
add("scenario-missing", Y, ["validate", "nope.yaml"])

# ---- non-finite numbers --------------------------------------------------------
N = "nonfinite"
SITES_INLINE = "network:\n  layout: table\n  sites:\n    - {{name: a, x_m: {x}, y_m: {y}}}\n    - {{name: b, x_m: 500, y_m: 0}}\n"
for name, extra, fast in [
    ("yaml-max-duration-inf", "controller:\n  max_duration_h: .inf\n", ["--set", "run.strategies=[static]"]),
    ("yaml-max-duration-nan", "controller:\n  max_duration_h: .nan\n", ["--set", "run.strategies=[static]"]),
    ("yaml-stage2-interval-inf", "controller:\n  stage2_interval_s: .inf\n", ["--set", "run.strategies=[static]"]),
    ("yaml-battery-capacity-inf", "battery:\n  capacity_kwh: .inf\n", None),
    ("yaml-battery-capacity-nan", "battery:\n  capacity_kwh: .nan\n", None),
    ("yaml-sinr-min-nan", "radio:\n  sinr_min_db: .nan\n", None),
    ("yaml-sinr-min-neg-inf", "radio:\n  sinr_min_db: -.inf\n", None),
    ("yaml-sinr-min-inf", "radio:\n  sinr_min_db: .inf\n", None),
    ("yaml-noise-psd-nan", "radio:\n  noise_psd_dbm_per_hz: .nan\n", None),
    ("yaml-isd-inf", "network:\n  isd_m: .inf\n", None),
    ("yaml-site-x-nan", SITES_INLINE.format(x=".nan", y="0"), None),
    ("yaml-site-y-inf", SITES_INLINE.format(x="0", y=".inf"), None),
    ("yaml-traffic-load-inf", "traffic:\n  load: .inf\n", None),
    ("yaml-traffic-load-nan", "traffic:\n  load: .nan\n", None),
    ("yaml-area-side-inf", "traffic:\n  area_side_m: .inf\n", None),
    ("yaml-power-scale-inf", "power:\n  scale: .inf\n", None),
    ("yaml-ev-capacity-std-inf", "ev:\n  capacity_std_kwh: .inf\n", None),
    ("yaml-price-base-inf", "pricing:\n  base_price_per_kwh: .inf\n", None),
    ("yaml-coop-radius-inf", "cooperation:\n  coop_radius_m: .inf\n", None),
    ("yaml-solver-time-limit-inf", "solver:\n  time_limit_s: .inf\n", FAST_MSRC),
    ("yaml-objective-survival-nan", "objective:\n  survival: .nan\n", None),
]:
    add(name, N, solve("s.yaml", fast=fast), {"s.yaml": S(extra)})
for name, setting in [
    ("set-max-duration-inf", "controller.max_duration_h=.inf"),
    ("set-battery-capacity-neg-inf", "battery.capacity_kwh=-.inf"),
    ("set-traffic-load-nan", "traffic.load=.nan"),
    ("set-sinr-min-inf", "radio.sinr_min_db=.inf"),
    ("set-traffic-load-1e400", "traffic.load=1e400"),
    ("set-traffic-load-string-inf", "traffic.load=inf"),
    ("set-power-scale-string-nan", "power.scale=nan"),
]:
    fast = ["--set", "run.strategies=[static]"] if "max_duration" in setting else FAST
    add(name, N, ["solve", "models/small.yaml", *fast, "--set", setting, "-o", "out.nc"])
add("set-site-x-inf", N, solve("models/small.yaml", "--set", "network.layout=table", "--set", "network.sites=[{name: a, x_m: .inf, y_m: 0}, {name: b, x_m: 0, y_m: 0}]"))
for name, table, row, column, value in [
    ("csv-bands-bandwidth-inf", "bands", "L800", "bandwidth_mhz", "inf"),
    ("csv-bands-bandwidth-nan", "bands", "L800", "bandwidth_mhz", "nan"),
    ("csv-bands-capacity-1e400", "bands", "L1800", "capacity_mbps", "1e400"),
    ("csv-bands-tx-power-nan", "bands", "L800", "tx_power_dbm", "nan"),
    ("csv-power-static-nan", "power", "L800", "static_kw", "nan"),
    ("csv-power-standby-inf", "power", "N3700", "standby_kw", "inf"),
    ("csv-power-dl-traffic-1e400", "power", "L800", "dl_traffic_kw_per_mbps", "1e400"),
]:
    base, path = (BANDS, "data/bands.csv") if table == "bands" else (POWER, "data/power_model.csv")
    add(name, N, solve("models/small.yaml"), {path: csv_set(base, row, column, value)})
SITES_YAML = S("network:\n  layout: table\n  sites: sites.csv\n")
add("csv-sites-x-inf", N, solve(), {"s.yaml": SITES_YAML, "sites.csv": SITES7.replace("B,500,0", "B,inf,0")})
add("csv-sites-y-nan", N, solve(), {"s.yaml": SITES_YAML, "sites.csv": SITES7.replace("C,250,433", "C,250,nan")})

# ---- huge sizes ----------------------------------------------------------------
H = "huge"
ST = ["--set", "run.strategies=[static]"]
add("max-duration-1e6-solve", H, solve("models/small.yaml", "--set", "controller.max_duration_h=1e6", fast=ST))
add("max-duration-1e6-inputs", H, ["inputs", "models/small.yaml", "--set", "controller.max_duration_h=1000000.0", "-o", "in.nc"])
add("max-duration-1e6-validate", H, ["validate", "models/small.yaml", "--set", "controller.max_duration_h=1000000.0"])
add("users-1e7-solve", H, solve("models/small.yaml", "--set", "traffic.users=10000000"))
add("users-1e8-validate", H, ["validate", "models/small.yaml", "--set", "traffic.users=100000000"])
add("hotspots-2e31-solve", H, solve("models/small.yaml", "--set", "traffic.hotspots=2147483648"))
add("rings-1000-validate", H, ["validate", "models/small.yaml", "--set", "network.rings=1000"])
add("rings-60-solve", H, solve("models/small.yaml", "--set", "network.rings=60"))
add("rings-60-inputs", H, ["inputs", "models/small.yaml", "--set", "network.rings=60", "-o", "in.nc"])
_grid = "name,x_m,y_m\n" + "".join(f"s{i},{(i % 317) * 500},{(i // 317) * 500}\n" for i in range(100000))
add("sites-table-100k-solve", H, solve(), {"s.yaml": SITES_YAML, "sites.csv": _grid})
add("stage2-interval-2e-20-solve", H, solve("models/small.yaml", "--set", "controller.stage2_interval_s=0.00000095367431640625"))
add("sweep-trials-1e9-solve", H, solve("models/small.yaml", "--set", "sweep.trials=1000000000"))
add("sweep-100k-values-solve", H, solve(), {"s.yaml": S("sweep:\n  workers: 1\n  dimensions:\n    load:\n      key: traffic.load\n      values: [" + ", ".join(f"{1 + i * 1e-6:.6f}" for i in range(100000)) + "]\n")})
_bands = "name,frequency_mhz,bandwidth_mhz,capacity_mbps,tx_power_dbm,antenna_gain_dbi,feeder_loss_db\n" + "".join(f"B{i},{800 + i * 0.01:.2f},10,50,46,15,3\n" for i in range(10000))
_power = csv_body(POWER).splitlines()[0] + "\n" + "".join(f"B{i},0.18,0.12,0.01,0.0014,0.0005,0.002,0.001,0.15\n" for i in range(10000))
add("bands-10000-solve", H, solve("s.yaml"), {"s.yaml": S("bands:\n  table: b.csv\n  assisted_bands: [B0]\npower:\n  coefficients: p.csv\n"), "b.csv": _bands, "p.csv": _power})
add("ev-arrivals-1e9-solve", H, solve("models/small.yaml", "--set", "ev.arrivals_per_site=1000000000"))
_classes = "traffic:\n  classes:\n" + "".join(f"    {c}: {{share: 0}}\n" for c in ("emergency", "voice", "essential", "best_effort")) + "".join(
    f"    c{i}: {{share: 0.0001, weight: 1, demand: {{distribution: constant, rate_mbps: 0.1}}}}\n" for i in range(10000))
add("classes-10000-solve", H, solve(), {"s.yaml": S(_classes)})
add("stage1-horizon-1e5-solve", H, solve("models/small.yaml", "--set", "controller.stage1_horizon_h=100000", fast=FAST_MSRC))
add("plan-step-0.001min-solve", H, ["solve", "models/small.yaml", "--set", "run.mode=plan", "--set", "formulation.plan_step_min=0.001", "-o", "out.nc"])
add("seed-2e200-solve", H, solve("models/small.yaml", "--set", f"seed={2 ** 200}"))
add("calibrate-trials-1e9", H, ["calibrate", "models/paper.yaml", "--set", "sweep.trials=1000000000", "--set", "controller.max_duration_h=0.25"])

# ---- CSV tables ------------------------------------------------------------------
C = "csv"
SB = "models/small.yaml"
add("bands-non-utf8", C, ["validate", SB], {"data/bands.csv": BANDS.replace("L800,800", "L800\xe9,800").encode("latin-1")})
add("power-non-utf8-comment", C, ["validate", SB], {"data/power_model.csv": ("# caf\xe9\n" + POWER).encode("latin-1")})
add("table-path-with-nul", C, V, {"s.yaml": S('bands:\n  table: "data/bands\\0.csv"\n')})
add("nul-byte-in-cell", C, ["validate", SB], {"data/bands.csv": BANDS.replace("L800,800", "L8\x0000,800")})
add("field-1mb-cell", C, ["validate", SB], {"data/bands.csv": BANDS.replace("L800,800", "L" + "8" * (1 << 20) + ",800")})
add("field-1mb-quoted-cell", C, ["validate", SB], {"data/bands.csv": BANDS.replace("L800,800", '"L' + "8" * (1 << 20) + '",800')})
add("missing-column", C, ["validate", SB], {"data/bands.csv": csv_drop_column(BANDS, "capacity_mbps")})
add("extra-column", C, ["validate", SB], {"data/bands.csv": csv_add_column(BANDS, "color", "red")})
add("duplicate-header", C, ["validate", SB], {"data/bands.csv": BANDS.replace("name,frequency_mhz,bandwidth_mhz", "name,frequency_mhz,frequency_mhz", 1)})
add("empty-header-name", C, ["validate", SB], {"data/bands.csv": csv_add_column(BANDS, "", "1")})
add("row-too-many-cells", C, ["validate", SB], {"data/bands.csv": BANDS.replace("L800,800,10,50,46,15,3", "L800,800,10,50,46,15,3,9,9")})
add("row-too-few-cells", C, ["validate", SB], {"data/bands.csv": BANDS.replace("L800,800,10,50,46,15,3", "L800,800")})
add("unterminated-quote", C, ["validate", SB], {"data/bands.csv": BANDS.replace("L800,800", '"L800,800')})
add("empty-table-file", C, ["validate", SB], {"data/bands.csv": ""})
add("header-only-bands", C, ["validate", SB], {"data/bands.csv": BANDS.split("L800,")[0]})
add("header-only-sites", C, V, {"s.yaml": SITES_YAML, "sites.csv": "name,x_m,y_m\n"})
add("duplicate-site-names", C, V, {"s.yaml": SITES_YAML, "sites.csv": SITES7.replace("B,500,0", "A,500,0")})
add("table-path-is-directory", C, V, {"s.yaml": S("bands:\n  table: data\n")})
add("table-file-missing", C, V, {"s.yaml": S("bands:\n  table: data/nope.csv\n")})
add("table-path-dev-zero", C, V, {"s.yaml": S("bands:\n  table: /dev/zero\n")})
add("table-path-fifo", C, V, {"s.yaml": S("bands:\n  table: fifo\n")}, setup=mkfifo("fifo"))
add("table-path-etc-passwd", C, V, {"s.yaml": S("bands:\n  table: /etc/passwd\n")})
add("table-is-number", C, ["validate", SB, "--set", "bands.table=5"])
add("csv-with-utf8-bom", C, ["validate", SB], {"data/bands.csv": "\ufeff" + csv_body(BANDS)}, valid=True)

# ---- sweeps ------------------------------------------------------------------------


def SW(dimension: str, extra: str = "") -> str:
    return S(f"sweep:\n  trials: 1\n  workers: 1\n  dimensions:\n{dimension}{extra}")


W = "sweep"
add("sweep-unknown-key-validate", W, V, {"s.yaml": SW("    d:\n      key: traffic.nonsense\n      values: [1, 2]\n")})
add("sweep-unknown-key-solve", W, solve(), {"s.yaml": SW("    d:\n      key: traffic.nonsense\n      values: [1, 2]\n")})
add("sweep-unknown-section-solve", W, solve(), {"s.yaml": SW("    d:\n      key: bogus.key\n      values: [1, 2]\n")})
add("sweep-key-into-scalar-solve", W, solve(), {"s.yaml": SW("    d:\n      key: seed.x\n      values: [1, 2]\n")})
add("sweep-key-empty-part-solve", W, solve(), {"s.yaml": SW("    d:\n      key: traffic..load\n      values: [1, 2]\n")})
add("sweep-value-wrong-type-solve", W, solve(), {"s.yaml": SW("    d:\n      key: traffic.users\n      values: [many, 10]\n")})
add("sweep-value-out-of-range-solve", W, solve(), {"s.yaml": SW("    d:\n      key: traffic.load\n      values: [-1, 1]\n")})
add("sweep-value-inf-solve", W, solve(), {"s.yaml": SW("    d:\n      key: traffic.load\n      values: [.inf, 1]\n")})
add("sweep-value-is-list", W, V, {"s.yaml": SW("    d:\n      key: traffic.load\n      values: [[1, 2]]\n")})
add("sweep-labels-count-mismatch", W, V, {"s.yaml": SW("    d:\n      key: traffic.load\n      values: [0.5, 1, 1.8]\n      labels: [a, b]\n")})
add("sweep-labels-repeat", W, V, {"s.yaml": SW("    d:\n      key: traffic.load\n      values: [0.5, 1]\n      labels: [a, a]\n")})
add("sweep-reserved-dim-name", W, V, {"s.yaml": SW("    trial:\n      key: traffic.load\n      values: [0.5, 1]\n")})
add("sweep-key-in-sweep-section", W, V, {"s.yaml": SW("    d:\n      key: sweep.trials\n      values: [1, 2]\n")})
add("sweep-values-empty", W, V, {"s.yaml": SW("    d:\n      key: traffic.load\n      values: []\n")})
add("sweep-dimensions-not-mapping", W, V, {"s.yaml": S("sweep:\n  dimensions: [a, b]\n")})
add("sweep-trials-zero", W, ["validate", SB, "--set", "sweep.trials=0"])
add("sweep-with-plan-mode", W, solve(SB, "--set", "sweep.trials=2", "--set", "run.mode=plan"))
add("sweep-with-trial", W, solve(SB, "--set", "sweep.trials=2", "--trial", "1"))
add("sweep-scheduler-unreachable", W, solve(SB, "--set", "sweep.trials=2", "--scheduler", "tcp://127.0.0.1:1"))
add("sweep-scheduler-garbage", W, solve(SB, "--set", "sweep.trials=2", "--scheduler", "not a url"))
add("scheduler-without-sweep", W, solve(SB, "--scheduler", "tcp://127.0.0.1:1"))
add("sweep-points-folder-is-file", W, solve(SB, "--set", "sweep.trials=2", "--set", "sweep.workers=1"), {"out.nc.points": "not a folder\n"})
add("calibrate-no-sweep-dimension", W, ["calibrate", SB])
add("calibrate-cell-without-equals", W, ["calibrate", "models/paper.yaml", "--cell", "load"])
add("calibrate-unknown-coordinate", W, ["calibrate", "models/paper.yaml", "--cell", "load=extreme"])
add("calibrate-unknown-strategy", W, ["calibrate", "models/paper.yaml", "--strategy", "bogus"])
add("calibrate-target-h-negative", W, ["calibrate", "models/paper.yaml", "--target-h", "-1"])
add("calibrate-scheduler-unreachable", W, ["calibrate", "models/paper.yaml", "--set", "sweep.trials=2", "--set", "controller.max_duration_h=0.25", "--scheduler", "tcp://127.0.0.1:1"])

# ---- one-site networks ---------------------------------------------------------------
O = "one-site"
for strategy in ("independent", "static", "msrc"):
    fast = ["--set", "controller.max_duration_h=0.25", "--set", f"run.strategies=[{strategy}]"]
    add(f"rings0-{strategy}", O, solve(SB, "--set", "network.rings=0", fast=fast), valid=True)
    add(f"table1-{strategy}", O, solve("s.yaml", fast=fast), {"s.yaml": SITES_YAML, "sites.csv": "name,x_m,y_m\nA,0,0\n"}, valid=True)
add("rings0-plan", O, ["solve", SB, "--set", "network.rings=0", "--set", "run.mode=plan", "--set", "controller.max_duration_h=1", "-o", "out.nc"], valid=True)
add("rings0-inputs", O, ["inputs", SB, "--set", "network.rings=0", "-o", "in.nc"], valid=True)

# ---- solver.options -----------------------------------------------------------------------
P = "solver-options"
for name, options in [
    ("unknown-option-name", "{bogus_option: 1}"),
    ("time-limit-string", "{time_limit: abc}"),
    ("threads-string", "{threads: many}"),
    ("presolve-int", "{presolve: 5}"),
    ("mip-rel-gap-negative", "{mip_rel_gap: -1}"),
    ("random-seed-float", "{random_seed: 1.5}"),
]:
    add(f"options-{name}", P, solve(SB, "--set", f"solver.options={options}", fast=FAST_MSRC))
add("options-not-mapping", P, ["validate", SB, "--set", "solver.options=[1, 2]"])
add("options-nested-mapping", P, ["validate", SB, "--set", "solver.options={a: {b: 1}}"])
add("solver-threads-1e6", P, solve(SB, "--set", "solver.threads=1000000", fast=FAST_MSRC))

# ---- output paths --------------------------------------------------------------------------
U = "output"
add("solve-o-readonly-dir", U, solve(SB, out="ro/out.nc"), setup=mkdir("ro", 0o555), unprivileged=True)
add("inputs-o-readonly-dir", U, ["inputs", SB, "-o", "ro/in.nc"], setup=mkdir("ro", 0o555), unprivileged=True)
add("solve-output-path-readonly-dir", U, ["solve", SB, *FAST, "--set", "output.path=ro/results/x.nc"], setup=mkdir("ro", 0o555), unprivileged=True)
add("solve-o-parent-is-file", U, solve(SB, out="afile/out.nc"), {"afile": "x\n"})
add("inputs-o-parent-is-file", U, ["inputs", SB, "-o", "afile/in.nc"], {"afile": "x\n"})
add("solve-o-existing-dir", U, solve(SB, out="adir"), setup=mkdir("adir"))
add("inputs-o-existing-dir", U, ["inputs", SB, "-o", "adir"], setup=mkdir("adir"))
add("solve-o-empty-string", U, solve(SB, out=""))
add("solve-o-dev-full", U, solve(SB, out="/dev/full"), unprivileged=True)
add("inputs-o-dev-full", U, ["inputs", SB, "-o", "/dev/full"], unprivileged=True)


def _char_device(name: str, major: int, minor: int) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        os.mknod(d / name, stat.S_IFCHR | 0o666, os.makedev(major, minor))

    return make


add("solve-o-local-full-device", U, solve(SB, out="fulldev"), setup=_char_device("fulldev", 1, 7),
    note="a private copy of /dev/full (char 1,7) in the case folder (root only)")
add("solve-o-name-too-long", U, solve(SB, out="x" * 300 + ".nc"))
add("solve-o-symlink-loop", U, solve(SB, out="loop/out.nc"), setup=lambda d: os.symlink("loop", d / "loop"))
add("plot-o-is-file", U, ["plot", "single.nc", "-o", "afile"], {"afile": "x\n"}, needs=("single.nc",))
add("plot-o-readonly-dir", U, ["plot", "single.nc", "-o", "ro/plots"], setup=mkdir("ro", 0o555), needs=("single.nc",), unprivileged=True)
add("report-o-is-file", U, ["report", "sweep.nc", "-o", "afile"], {"afile": "x\n"}, needs=("sweep.nc",))
add("report-o-readonly-dir", U, ["report", "sweep.nc", "-o", "ro/report"], setup=mkdir("ro", 0o555), needs=("sweep.nc",), unprivileged=True)

# ---- results files: show / plot / report ---------------------------------------------------------
R = "results-file"


def _nc_foreign(d: Path) -> None:
    import xarray as xr

    xr.Dataset({"x": ("t", [1, 2])}).to_netcdf(d / "f.nc")


def _nc_results(variables: dict, coords: dict | None = None) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        import xarray as xr

        tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs={"made_by": "probe"}), "/results": xr.Dataset(variables, coords=coords or {})})
        tree.to_netcdf(d / "f.nc", engine="netcdf4")

    return make


def _nc3(d: Path) -> None:
    import xarray as xr

    xr.Dataset({"x": ("t", [1.0, 2.0])}).to_netcdf(d / "f.nc", format="NETCDF3_CLASSIC", engine="scipy")


def _truncated(d: Path) -> None:
    data = (d / "single.nc").read_bytes()
    (d / "f.nc").write_bytes(data[: len(data) // 2])
    (d / "single.nc").unlink()


FOREIGN: list[tuple[str, dict, Callable | None, tuple[str, ...]]] = [
    ("foreign-netcdf", {}, _nc_foreign, ()),
    ("results-group-foreign-strategy", {}, _nc_results({"y": ("strategy", [1.0, 2.0])}, {"strategy": ["a", "b"]}), ()),
    ("results-group-foreign-no-strategy", {}, _nc_results({"z": ("q", [1, 2, 3])}), ()),
    ("results-group-foreign-sweep", {}, _nc_results(
        {"survival_time_mean": (("strategy",), [1.0, 2.0]), "w": (("strategy", "trial"), [[1.0, 2.0], [3.0, 4.0]])},
        {"strategy": ["a", "b"], "trial": [0, 1]}), ()),
    ("netcdf3-file", {}, _nc3, ()),
    ("text-renamed-nc", {"f.nc": "this is not a NetCDF file\n"}, None, ()),
    ("empty-file", {"f.nc": b""}, None, ()),
    ("missing-file", {}, None, ()),
    ("directory", {}, mkdir("f.nc"), ()),
    ("truncated-results", {}, _truncated, ("single.nc",)),
]
for kind, files, setup, needs in FOREIGN:
    # show, plot and report share the reading step: all three only where the file gets past it
    commands = ("show", "plot", "report") if kind.startswith("results-group-foreign-s") else ("show",)
    for command in commands:
        add(f"{command}-{kind}", R, [command, "f.nc"], files, setup=setup, needs=needs)
add("show-fifo", R, ["show", "f.nc"], setup=mkfifo("f.nc"))
add("show-dev-zero", R, ["show", "/dev/zero"])
add("report-single-run-file", R, ["report", "single.nc"], needs=("single.nc",))
add("plot-at-h-nan", R, ["plot", "single.nc", "--at-h", "nan"], needs=("single.nc",))
add("plot-at-h-1e9", R, ["plot", "single.nc", "--at-h", "1e9"], needs=("single.nc",))
add("plot-sweep-with-at-h", R, ["plot", "sweep.nc", "--at-h", "1"], needs=("sweep.nc",))

# ---- command-line arguments --------------------------------------------------------------------
A = "cli-args"
for name, setting in [
    ("set-without-equals", "traffic.load"),
    ("set-unknown-key", "traffic.bogus=1"),
    ("set-unknown-section", "bogus.key=1"),
    ("set-empty-key", "=5"),
    ("set-empty-part", "traffic..load=1"),
    ("set-into-scalar", "traffic.users.x=1"),
    ("set-invalid-yaml", "traffic.load=["),
    ("set-python-tag", 'seed=!!python/object/apply:os.system ["touch pwned"]'),
    ("set-list-index-out-of-range", "run.strategies.5=static"),
    ("set-unknown-strategy", "run.strategies=[bogus]"),
]:
    add(name, A, ["validate", SB, "--set", setting])
add("variant-unknown", A, ["validate", "models/msrc.yaml", "--variant", "extreme"])
add("variants-not-mapping", A, V, {"s.yaml": S("variants: [a, b]\n")})
add("variant-not-mapping", A, V, {"s.yaml": S("variants:\n  x: 5\n")})
add("variant-unknown-key", A, V, {"s.yaml": S("variants:\n  x:\n    traffic: {bogus: 1}\n")})
add("trial-negative-inputs", A, ["inputs", SB, "--trial", "-1", "-o", "in.nc"])
add("trial-negative-solve", A, solve(SB, "--trial", "-1"))
add("workers-zero", A, solve(SB, "--set", "sweep.trials=2", "--workers", "0"))
add("at-h-negative", A, ["plot", "single.nc", "--at-h", "-1"], needs=("single.nc",))
add("format-xml", A, ["schema", "--format", "xml"])
add("unknown-command", A, ["frobnicate"])
add("missing-argument", A, ["validate"])
add("unknown-option", A, ["validate", SB, "--bogus"])


# ---------------------------------------------------------------- running


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: kind, size, mtime and inode (no link is followed)."""
    entries: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            try:
                st = os.lstat(path)
            except OSError:
                continue
            entries[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, st.st_ino)
    return entries


def changes(before: dict, after: dict) -> dict[str, list[str]]:
    new = sorted(p for p in after if p not in before)
    return {
        "new_files": [p for p in new if after[p][0] != stat.S_IFDIR],
        "new_dirs": [p for p in new if after[p][0] == stat.S_IFDIR],
        "modified": sorted(p for p in after if p in before and after[p] != before[p] and after[p][0] != stat.S_IFDIR),
        "removed": sorted(p for p in before if p not in after),
        "part_files": sorted(p for p in after if Path(p).name.startswith(".") and Path(p).name.endswith(".part")),
    }


def _exception_line(text: str) -> str:
    """The last ``SomeError: message`` line of a traceback."""
    if "Traceback" not in text:
        return ""
    tail = text[text.rindex("Traceback"):]
    for line in reversed(tail.splitlines()):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|error)\b", line):
            return line[:300]
    return next((line for line in reversed(tail.splitlines()) if line.strip()), "")[:300]


def classify(case: dict, rc: int | None, out: str, err: str, timed_out: bool, change: dict) -> str:
    text = out + "\n" + err
    if timed_out:
        return "hang"
    if rc is not None and rc < 0:
        return "oom"
    if "MemoryError" in text or "std::bad_alloc" in text or "Cannot allocate memory" in text:
        return "oom"
    if "Traceback" in text:
        return "traceback"
    if rc == 0:
        return "ok" if case["valid"] else "accepted"
    if change["new_files"] or change["modified"] or change["removed"] or change["part_files"]:
        return "partial"
    lines = [line for line in err.splitlines() if line.strip() and not PROGRESS.match(line.strip())]
    if lines and all(line.startswith("error:") for line in lines):
        return "clean"
    return "other"


def _environment(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MPLBACKEND="Agg", MPLCONFIGDIR=str(base / "_mpl"), HOME=str(base / "_home"), DASK_TEMPORARY_DIRECTORY=str(base / "_dask"),
        PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", COLUMNS="120", TERM="dumb", NO_COLOR="1",
    )
    env.pop("FORCE_COLOR", None)
    return env


def run_one(job: dict) -> dict:
    """Run one prepared case (in a pool worker: single-threaded, so preexec_fn is safe)."""
    folder = Path(job["dir"])
    record = {k: job[k] for k in ("name", "cls", "args", "valid", "unprivileged", "note")}
    if job.get("setup_error"):
        return {**record, "outcome": "setup-error", "exit_code": None, "signal": None, "elapsed_s": 0.0,
                "stderr_head": [job["setup_error"]], "exception": "", "stdout_tail": "", "changes": {}}
    command = [MSRC, *job["args"]]
    if job["unprivileged"] and IS_ROOT:
        # as nobody, keeping only CAP_DAC_READ_SEARCH so that an interpreter in root's home stays reachable:
        # permission bits then bind (a 0555 folder is read-only, /dev cannot be written)
        command = [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                   "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", "--", *command]

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))

    before = snapshot(folder)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(command, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=limit, start_new_session=True, env=job["env"])
    except OSError as exc:
        return {**record, "outcome": "setup-error", "exit_code": None, "signal": None, "elapsed_s": 0.0,
                "stderr_head": [f"cannot start: {exc}"], "exception": "", "stdout_tail": "", "changes": {}}
    timed_out = False
    try:
        out_b, err_b = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out_b, err_b = proc.communicate()
    elapsed = time.monotonic() - started
    try:  # leftover children of this run (e.g. Dask workers) share its process group
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    rc = proc.returncode
    out = out_b.decode("utf-8", "replace")
    err = err_b.decode("utf-8", "replace")
    change = changes(before, snapshot(folder))
    outcome = classify(job, rc, out, err, timed_out, change)
    err_lines = [line for line in err.splitlines() if line.strip()]
    return {
        **record,
        "outcome": outcome,
        "exit_code": rc,
        "signal": signal.Signals(-rc).name if rc is not None and rc < 0 and not timed_out else None,
        "elapsed_s": round(elapsed, 2),
        "stderr_head": [line[:300] for line in err_lines[:2]],
        "stderr_tail": [line[:300] for line in err_lines[-3:] if not PROGRESS.match(line.strip())],
        "exception": _exception_line(out + "\n" + err),
        "stdout_tail": out[-600:],
        "changes": change,
    }


def make_fixtures(base: Path, env: dict) -> dict[str, str]:
    """single.nc (one simulate run) and sweep.nc (a 2-trial sweep) from the current code; name -> error if it failed."""
    folder = base / "_fixtures"
    folder.mkdir()
    shutil.copytree(MAIN / "models", folder / "models")
    shutil.copytree(MAIN / "data", folder / "data")
    runs = {
        "single.nc": [MSRC, "solve", "models/small.yaml", *FAST, "-o", "single.nc"],
        "sweep.nc": [MSRC, "solve", "models/small.yaml", *FAST, "--set", "sweep.trials=2", "--set", "sweep.workers=1", "-o", "sweep.nc"],
    }
    failed = {}
    for name, command in runs.items():
        proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        if proc.returncode != 0 or not (folder / name).exists():
            failed[name] = f"fixture {name} failed (exit {proc.returncode}): {(proc.stderr.strip().splitlines() or [''])[-1][:200]}"
    return failed


def prepare(case: Case, index: int, base: Path, env: dict, fixtures_failed: dict) -> dict:
    folder = base / f"{index:03d}-{case.name}"
    folder.mkdir()
    job = {"name": case.name, "cls": case.cls, "args": case.args, "valid": case.valid, "unprivileged": case.unprivileged,
           "note": case.note, "dir": str(folder), "env": env}
    try:
        shutil.copytree(MAIN / "models", folder / "models", ignore=shutil.ignore_patterns("*.nc"))
        shutil.copytree(MAIN / "data", folder / "data")
        for need in case.needs:
            if need in fixtures_failed:
                raise RuntimeError(fixtures_failed[need])
            shutil.copy(base / "_fixtures" / need, folder / need)
        for rel, content in case.files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        if case.setup is not None:
            case.setup(folder)
        if case.unprivileged and IS_ROOT:
            os.chmod(folder, 0o777)
    except Exception as exc:  # noqa: BLE001 - recorded as the case's outcome
        job["setup_error"] = f"setup failed: {type(exc).__name__}: {exc}"
    return job


# ---------------------------------------------------------------- summary

OUTCOMES = ("clean", "ok", "traceback", "hang", "oom", "accepted", "partial", "other", "setup-error")


def summarise(results: list[dict]) -> str:
    lines = []
    counts = {o: sum(r["outcome"] == o for r in results) for o in OUTCOMES}
    lines.append(f"{len(results)} cases: " + ", ".join(f"{o} {n}" for o, n in counts.items() if n))
    classes = list(dict.fromkeys(r["cls"] for r in results))
    present = [o for o in OUTCOMES if counts[o]]
    width = max(len(c) for c in classes) + 2
    lines.append("")
    lines.append("class".ljust(width) + "".join(o.rjust(11) for o in present) + "total".rjust(8))
    for cls in classes:
        rows = [r for r in results if r["cls"] == cls]
        lines.append(cls.ljust(width) + "".join(str(sum(r["outcome"] == o for r in rows)).rjust(11) for o in present) + str(len(rows)).rjust(8))
    lines.append("")
    lines.append("not clean (and not ok):")
    for r in results:
        if r["outcome"] in ("clean", "ok"):
            continue
        first = r["exception"] or (r["stderr_head"][0] if r["stderr_head"] else "(no stderr)")
        if r["outcome"] == "oom" and r["signal"]:
            first = f"[{r['signal']}] {first}"
        if r["outcome"] == "partial":
            c = r["changes"]
            first += f"  [left: {', '.join(c['new_files'] + c['modified'] + c['removed'] + c['part_files'])[:120]}]"
        lines.append(f"  {r['outcome']:<10} {r['cls']:<15} {r['name']:<38} {r['elapsed_s']:>6.1f}s  rc={r['exit_code']}  {first[:160]}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1].startswith("-"):
        print(__doc__)
        return 2
    label = argv[1]
    jobs = int(argv[argv.index("--jobs") + 1]) if "--jobs" in argv else 2
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    keep = "--keep" in argv
    cases = [c for c in CASES if only is None or only in c.name or only == c.cls]
    base = Path(tempfile.mkdtemp(prefix=f"msrc-probe-{label}-"))
    os.chmod(base, 0o755)
    for name in ("_mpl", "_home", "_dask"):
        (base / name).mkdir()
        os.chmod(base / name, 0o777)
    env = _environment(base)
    started = time.monotonic()
    print(f"probe {label}: {len(cases)} cases in {base}", flush=True)
    fixtures_failed = make_fixtures(base, env) if any(c.needs for c in cases) else {}
    for message in fixtures_failed.values():
        print(f"warning: {message}", flush=True)
    prepared = [prepare(c, i, base, env, fixtures_failed) for i, c in enumerate(cases)]
    print(f"prepared in {time.monotonic() - started:.0f} s", flush=True)
    results: list[dict | None] = [None] * len(prepared)
    with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=1) as pool:
        for done, (index, record) in enumerate(pool.imap_unordered(_indexed, list(enumerate(prepared))), start=1):
            results[index] = record
            print(f"[{done:3d}/{len(prepared)}] {record['outcome']:<10} {record['elapsed_s']:6.1f}s  {record['cls']}/{record['name']}", flush=True)
    final = [r for r in results if r is not None]
    HERE.mkdir(parents=True, exist_ok=True)
    target = HERE / f"bad-inputs-{label}.json"
    target.write_text(json.dumps(final, indent=1) + "\n")
    print()
    print(summarise(final))
    print(f"\nwrote {target} ({time.monotonic() - started:.0f} s)")
    if not keep:
        for folder, dirs, _ in os.walk(base):  # read-only folders made by cases
            for name in dirs:
                try:
                    os.chmod(Path(folder) / name, 0o755)
                except OSError:
                    pass
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _indexed(item: tuple[int, dict]) -> tuple[int, dict]:
    index, job = item
    return index, run_one(job)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
