"""Where a phone number is from, named in Chinese: phonenumbers' geocoder answers, from a table of only the
Chinese names.

`phonenumbers.geocoder` imports the names of 287,000 number prefixes in every language it has (19 MB of
Python; 3.4 s of CPU at each start, more than a service may take to be ready). The intake names places in
Chinese only, so the Chinese names (and the Chinese country names) are taken out once per phonenumbers
version into a small JSON table, kept in a cache folder and read in a fraction of that time. The answers
are the geocoder's own (tests compare them on every region's example numbers):

    python -m lead_intake.phone_regions [FOLDER]   makes the table unless it is there (`make up` and the
                                                   image build do)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber

LANG = "zh"  # the geocoder does not fall back to English for Chinese: a prefix without a Chinese name is skipped
CACHE_ENV = "LEAD_INTAKE_PHONE_REGIONS_DIR"


@dataclass(frozen=True)
class RegionNames:
    """Chinese names of number prefixes (E.164 digits without the +) and of regions (ISO codes)."""

    prefixes: dict[str, str]
    regions: dict[str, str]
    longest_prefix: int

    def country(self, number: PhoneNumber) -> str:
        """geocoder.country_name_for_number(number, "zh"): the region's name, "" when the number could be of
        several regions."""
        codes = phonenumbers.region_codes_for_country_code(number.country_code)
        if len(codes) == 1:
            return self.regions.get(codes[0], "")
        valid_in = [code for code in codes if phonenumbers.is_valid_number_for_region(number, code)]
        if len(valid_in) > 1:
            return ""
        return self.regions.get(valid_in[0] if valid_in else "ZZ", "")

    def area(self, number: PhoneNumber) -> str:
        """geocoder.description_for_valid_number(number, "zh"): the longest prefix's name, else the country's."""
        national = phonenumbers.national_significant_number(number)
        token = phonenumbers.country_mobile_token(number.country_code)
        looked_up = number
        if token and national.startswith(token):  # e.g. Argentina's mobile 9 comes before the area code
            try:
                looked_up = phonenumbers.parse(national[len(token):],
                                               phonenumbers.region_code_for_country_code(number.country_code))
            except NumberParseException:
                looked_up = number
        digits = phonenumbers.format_number(looked_up, phonenumbers.PhoneNumberFormat.E164)[1:]
        for length in range(min(self.longest_prefix, len(digits)), 0, -1):
            name = self.prefixes.get(digits[:length])
            if name is not None:  # an empty name ends the search too, as in the geocoder
                return name or self.country(number)
        return self.country(number)


def extract() -> RegionNames:
    """The Chinese names out of phonenumbers' geodata (the slow import this module exists to avoid)."""
    from phonenumbers.geodata import GEOCODE_DATA, GEOCODE_LONGEST_PREFIX
    from phonenumbers.geodata.locale import LOCALE_DATA

    prefixes = {prefix: names[LANG] for prefix, names in GEOCODE_DATA.items() if LANG in names}
    regions = {}
    for code, names in LOCALE_DATA.items():
        name = names.get(LANG, "")
        if name.startswith("*"):  # "*xx": the name is the one of language xx
            name = names.get(name[1:], "")
        if name:
            regions[code] = name
    return RegionNames(prefixes, regions, GEOCODE_LONGEST_PREFIX)


def default_folder() -> Path:
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "telesales"


def table_file(folder: Path) -> Path:
    return folder / f"phone-regions-{phonenumbers.__version__}-{LANG}.json"


def write(names: RegionNames, folder: Path) -> Path:
    """Write the table atomically (a reader never sees half of it)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = table_file(folder)
    fd, partial = tempfile.mkstemp(dir=folder, prefix=target.name, suffix=".partial")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"longest_prefix": names.longest_prefix, "regions": names.regions, "prefixes": names.prefixes},
                  out, ensure_ascii=False, separators=(",", ":"))
    os.replace(partial, target)
    return target


def read(path: Path) -> RegionNames | None:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        return RegionNames(table["prefixes"], table["regions"], int(table["longest_prefix"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: made again


def load(folder: Path | None = None) -> RegionNames:
    """The table from `folder` (default: $LEAD_INTAKE_PHONE_REGIONS_DIR, else the user's cache folder); made
    from phonenumbers and written there when it is missing. A folder that cannot be written only costs the
    extraction at every start."""
    folder = folder or default_folder()
    found = read(table_file(folder))
    if found is not None:
        return found
    names = extract()
    try:
        write(names, folder)
    except OSError:
        pass
    return names


_loaded: RegionNames | None = None


def names() -> RegionNames:
    """The table this process uses (loaded at the first call, or by `use`)."""
    global _loaded
    if _loaded is None:
        _loaded = load()
    return _loaded


def use(table: RegionNames) -> None:
    """Set the table this process uses (the service loads it at start, before the first lead)."""
    global _loaded
    _loaded = table


if __name__ == "__main__":
    destination = Path(sys.argv[1]) if len(sys.argv) > 1 else default_folder()
    table = load(destination)
    if not table_file(destination).is_file():
        sys.exit(f"could not write the table into {destination}")
    print(f"{table_file(destination)}: {len(table.prefixes)} prefixes, {len(table.regions)} regions")
