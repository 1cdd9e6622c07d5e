"""Write assets/selfcheck/bigearthnet_s2.npz: two real Sentinel-2 L2A patches for the CLOSP
start-up self-check (closp_demo/encoders/selfcheck.py), taken unchanged from the shared samples.

    python tools/make_selfcheck_patches.py [--samples ../shared/data/sentinel-samples]

A sea patch and a coniferous-forest patch, both from Finland in April 2018: land covers as unlike
as Sentinel-2 shows them, so a model that sees its input must embed them differently. Arrays:
`s2` (2, 12, 120, 120) uint16 digital numbers in the internal L2A band order (B01..B12 without
B10; 20 m and 60 m bands upsampled by pixel repetition, as BigEarthNet ships them), `names`,
`patch_ids`, `bands`. About 230 KB compressed. Licence: assets/ATTRIBUTION.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "assets" / "selfcheck" / "bigearthnet_s2.npz"
PATCHES = {  # name -> BigEarthNet v2 patch id (labels: CORINE-19)
    "sea": "S2A_MSIL2A_20180419T101031_N9999_R022_T34VDN_63_45",  # Marine waters
    "forest": "S2A_MSIL2A_20180413T095031_N9999_R079_T35VLG_90_07",  # Coniferous/mixed forest
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=Path, default=REPO_ROOT.parent / "shared" / "data" /
                        "sentinel-samples")  # fmt: skip
    args = parser.parse_args()
    with np.load(args.samples / "bigearthnet" / "ben_patches.npz") as z:
        ids = [str(p) for p in z["patch_id"]]
        rows = [ids.index(pid) for pid in PATCHES.values()]
        s2, bands = z["s2"][rows], z["s2_bands"]
    assert s2.dtype == np.uint16 and s2.shape == (2, 12, 120, 120)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, s2=s2, names=np.array(list(PATCHES)),
                        patch_ids=np.array(list(PATCHES.values())), bands=bands)  # fmt: skip
    print(f"{OUT.relative_to(REPO_ROOT)}: {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
