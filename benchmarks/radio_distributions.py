"""Coupling loss and SINR distributions of a scenario with every site normal (docs/inputs.md).

Run from the repository root::

    python benchmarks/radio_distributions.py                 # models/msrc.yaml, trials 0-4
    python benchmarks/radio_distributions.py --trials 1 --scenario models/city.yaml

Per band it prints the 5th, 50th and 95th percentiles over all users of

* the coupling loss to the serving site (the strongest received site): path
  loss incl. shadowing less antenna gain plus feeder loss, i.e. transmit
  power minus received power (dB), as TR 38.901 Sec. 7.8.1 defines it;
* the SINR (Eq. 7, incl. noise) at the serving site with every other site
  transmitting the band (dB), the large-scale "geometry" with noise;
* the same SINR at the second strongest site, the one a helper would be.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from msrc_model.config.loader import load_scenario
from msrc_model.inputs import build_inputs
from msrc_model.physics import RadioChannel

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(REPO / "models" / "msrc.yaml"))
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario).scenario
    coupling, sinr_first, sinr_second = [], [], []
    for trial in range(args.trials):
        inputs = build_inputs(scenario, trial=trial)
        channel = RadioChannel.from_data(inputs)
        every = np.ones((inputs.sizes["site"], inputs.sizes["band"]), dtype=bool)
        rx_dbm = inputs.ranked_rx_dbm.values.astype(float)  # (user, rank, band), strongest on the first band first
        strongest = np.argmax(rx_dbm, axis=1)  # per user and band
        users = np.arange(inputs.sizes["user"])
        coupling.append(inputs.tx_power_dbm.values[None, :] - np.take_along_axis(rx_dbm, strongest[:, None, :], axis=1)[:, 0, :])
        first = channel.sinr_db(users, inputs.ranked_site.values[:, 0], every)
        second = channel.sinr_db(users, inputs.ranked_site.values[:, 1], every)
        sinr_first.append(first)
        sinr_second.append(second)
    bands = [str(b) for b in inputs.band.values]
    print(f"{scenario.name}: {args.trials} trial(s), {sum(len(c) for c in coupling)} users; percentiles 5 / 50 / 95")
    for label, values in (
        ("coupling loss to the serving site (dB)", coupling),
        ("SINR at the serving site, every site on (dB)", sinr_first),
        ("SINR at the second strongest site, every site on (dB)", sinr_second),
    ):
        stacked = np.concatenate(values)
        print(label)
        for b, band in enumerate(bands):
            p5, p50, p95 = np.percentile(stacked[:, b], [5, 50, 95])
            print(f"  {band:>6}: {p5:7.1f} {p50:7.1f} {p95:7.1f}")


if __name__ == "__main__":
    main()
