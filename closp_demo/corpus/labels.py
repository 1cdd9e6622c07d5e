"""Label vocabularies: Dynamic World classes, CrisisLandMark crisis classes, CORINE mappings.

CrisisLandMark harmonises every label into the 9 Dynamic World (DW) classes plus 3 crisis
classes; CORINE labels (BigEarthNet) are mapped to DW as CrisisLandMark publishes it.
`harmonise_label` reads any spelling a source may use (see its docstring).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DW_CLASSES: tuple[str, ...] = (
    "Water",
    "Trees",
    "Grass",
    "Flooded Vegetation",
    "Crops",
    "Shrub and Scrub",
    "Built",
    "Bare",
    "Snow and Ice",
)
CRISIS_CLASSES: tuple[str, ...] = ("Flooded Area", "Earthquake Damage", "Burned Area")
ALL_CLASSES: tuple[str, ...] = DW_CLASSES + CRISIS_CLASSES

# CORINE Land Cover level-3 (43 classes) -> DW / crisis, CrisisLandMark's published mapping.
CLC43_TO_DW: dict[str, str] = {
    "Continuous urban fabric": "Built",
    "Discontinuous urban fabric": "Built",
    "Industrial or commercial units": "Built",
    "Road and rail networks and associated land": "Built",
    "Port areas": "Built",
    "Airports": "Built",
    "Mineral extraction sites": "Bare",
    "Dump sites": "Bare",
    "Construction sites": "Bare",
    "Green urban areas": "Grass",
    "Sport and leisure facilities": "Grass",
    "Non-irrigated arable land": "Crops",
    "Permanently irrigated land": "Crops",
    "Rice fields": "Flooded Vegetation",
    "Vineyards": "Crops",
    "Fruit trees and berry plantations": "Crops",
    "Olive groves": "Crops",
    "Pastures": "Grass",
    "Annual crops associated with permanent crops": "Crops",
    "Complex cultivation patterns": "Crops",
    "Land principally occupied by agriculture, with significant areas of natural vegetation": "Crops",
    "Agro-forestry areas": "Trees",
    "Broad-leaved forest": "Trees",
    "Coniferous forest": "Trees",
    "Mixed forest": "Trees",
    "Natural grassland": "Grass",
    "Moors and heathland": "Shrub and Scrub",
    "Sclerophyllous vegetation": "Shrub and Scrub",
    "Transitional woodland/shrub": "Shrub and Scrub",
    "Beaches, dunes, sands": "Bare",
    "Bare rock": "Bare",
    "Sparsely vegetated areas": "Bare",
    "Burnt areas": "Burned Area",
    "Glaciers and perpetual snow": "Snow and Ice",
    "Inland marshes": "Flooded Vegetation",
    "Peatbogs": "Flooded Vegetation",
    "Salt marshes": "Flooded Vegetation",
    "Salines": "Bare",
    "Intertidal flats": "Bare",
    "Water courses": "Water",
    "Water bodies": "Water",
    "Coastal lagoons": "Water",
    "Estuaries": "Water",
    "Sea and ocean": "Water",
}

# BigEarthNet 19-class nomenclature: each class groups CORINE-43 classes; it maps to the class its
# members map to. "Coastal wetlands" groups salt marshes (Flooded Vegetation) with salines and
# intertidal flats (Bare): the majority, Bare, is used.
CLC19_TO_DW: dict[str, str] = {
    "Urban fabric": "Built",
    "Industrial or commercial units": "Built",
    "Arable land": "Crops",
    "Permanent crops": "Crops",
    "Pastures": "Grass",
    "Complex cultivation patterns": "Crops",
    "Land principally occupied by agriculture, with significant areas of natural vegetation": "Crops",
    "Agro-forestry areas": "Trees",
    "Broad-leaved forest": "Trees",
    "Coniferous forest": "Trees",
    "Mixed forest": "Trees",
    "Natural grassland and sparsely vegetated areas": "Grass",
    "Moors, heathland and sclerophyllous vegetation": "Shrub and Scrub",
    "Transitional woodland, shrub": "Shrub and Scrub",
    "Beaches, dunes, sands": "Bare",
    "Inland wetlands": "Flooded Vegetation",
    "Coastal wetlands": "Bare",
    "Inland waters": "Water",
    "Marine waters": "Water",
}


def clc19_to_dw(labels: Iterable[str]) -> tuple[str, ...]:
    """Map BigEarthNet-19 labels to sorted, de-duplicated DW classes (unknown labels raise)."""
    out = set()
    for label in labels:
        label = label.strip()
        if not label:
            continue
        if label not in CLC19_TO_DW:
            raise KeyError(f"unknown BigEarthNet-19 label: {label!r}")
        out.add(CLC19_TO_DW[label])
    return tuple(c for c in ALL_CLASSES if c in out)


# Crisis label spellings beyond the canonical names: plurals, the British "burnt", and the bare
# event words a flood / earthquake / fire source may use for its positive class.
CRISIS_ALIASES: dict[str, str] = {
    "Flooded Areas": "Flooded Area",
    "Flood Area": "Flooded Area",
    "Flood": "Flooded Area",
    "Floods": "Flooded Area",
    "Flooded": "Flooded Area",
    "Flooding": "Flooded Area",
    "Earthquake Damages": "Earthquake Damage",
    "Earthquake Damaged": "Earthquake Damage",
    "Earthquake": "Earthquake Damage",
    "Earthquakes": "Earthquake Damage",
    "Burned Areas": "Burned Area",
    "Burnt Area": "Burned Area",
    "Burnt Areas": "Burned Area",
    "Burned": "Burned Area",
    "Burnt": "Burned Area",
    "Burn Scar": "Burned Area",
    "Burn Scars": "Burned Area",
}
# CORINE names as other releases spell them ("Peat bogs" is CLC's own; BigEarthNet writes
# "Peatbogs").
CORINE_ALIASES: dict[str, str] = {"Peat bogs": "Flooded Vegetation"}

_SPACING = re.compile(r"[\s_,-]+")


def label_key(name: str) -> str:
    """Case- and spelling-insensitive form: lower case, "_", "-", "," and runs of whitespace as
    one space, "&" as "and" ("Shrub_and_Scrub", "shrub & scrub" -> "shrub and scrub")."""
    return _SPACING.sub(" ", name.replace("&", " and ").lower()).strip()


def _harmonised_table() -> dict[str, str]:
    table: dict[str, str] = {}
    sources = (
        {c: c for c in ALL_CLASSES}, CLC43_TO_DW, CLC19_TO_DW, CORINE_ALIASES, CRISIS_ALIASES,
    )  # fmt: skip
    for mapping in sources:
        for name, target in mapping.items():
            key = label_key(name)
            if table.setdefault(key, target) != target:  # a spelling may not mean two classes
                raise ValueError(f"label {name!r} maps to {table[key]!r} and {target!r}")
    return table


_HARMONISED = _harmonised_table()


def harmonise_label(name: str) -> str | None:
    """A source label -> its DW / crisis class in `ALL_CLASSES`, or None when unknown.

    Read: the 12 class names; Dynamic World's band names (`flooded_vegetation`, `snow_and_ice`,
    ...); CORINE-43 and BigEarthNet CORINE-19 names (mapped as CrisisLandMark publishes); the
    crisis spellings in `CRISIS_ALIASES`; all case-, whitespace-, "_"/"-"/","-insensitive.
    """
    return _HARMONISED.get(label_key(name))


def accepted_spellings() -> dict[str, str]:
    """Every accepted label form (`label_key` form) -> its class, for reports and docs."""
    return dict(sorted(_HARMONISED.items()))
