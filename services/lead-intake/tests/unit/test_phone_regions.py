"""The Chinese-only table answers as phonenumbers' geocoder does (which it replaces to start fast)."""

from __future__ import annotations

import random
from pathlib import Path

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType, geocoder

from lead_intake import phone_regions
from lead_intake.phone_regions import RegionNames

TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE,
         PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP, PhoneNumberType.PAGER, PhoneNumberType.UAN)


def sample_numbers() -> list[phonenumbers.PhoneNumber]:
    """Every region's example numbers of every type, and random valid Chinese mobile and fixed numbers."""
    numbers = [example for region in sorted(phonenumbers.SUPPORTED_REGIONS) for kind in TYPES
               if (example := phonenumbers.example_number_for_type(region, kind)) is not None]
    rng = random.Random(20261206)
    while len(numbers) < 3000:
        candidate = rng.choice(["13", "15", "17", "18", "19", "010", "021", "0431", "0755", "0898"])
        raw = candidate + "".join(rng.choice("0123456789") for _ in range(11 - len(candidate)))
        number = phonenumbers.parse(raw, "CN")
        if phonenumbers.is_valid_number(number):
            numbers.append(number)
    return numbers


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> RegionNames:
    folder = tmp_path_factory.mktemp("regions")
    phone_regions.write(phone_regions.extract(), folder)
    loaded = phone_regions.read(phone_regions.table_file(folder))
    assert loaded is not None
    return loaded


def test_names_are_the_geocoders_for_every_region_and_chinese_numbers(table: RegionNames) -> None:
    numbers = sample_numbers()
    assert len({phonenumbers.region_code_for_number(n) for n in numbers}) > 200
    for number in numbers:
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert table.country(number) == geocoder.country_name_for_number(number, "zh"), e164
        if phonenumbers.is_valid_number(number):
            assert table.area(number) == geocoder.description_for_valid_number(number, "zh"), e164


@pytest.mark.parametrize("raw", ["+12005550100", "+79991234567", "+4470000000", "+262999999999"])
def test_a_number_of_a_shared_country_code_valid_in_no_region_has_no_country(table: RegionNames, raw: str) -> None:
    number = phonenumbers.parse(raw)
    assert table.country(number) == geocoder.country_name_for_number(number, "zh")


def test_a_chinese_mobile_number_is_named_by_its_city(table: RegionNames) -> None:
    number = phonenumbers.parse("13924681357", "CN")
    assert (table.country(number), table.area(number)) == ("中国", geocoder.description_for_valid_number(number, "zh"))
    assert table.area(number) not in ("", "中国")


def test_the_table_is_made_once_then_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = phone_regions.load(tmp_path)
    assert phone_regions.table_file(tmp_path).is_file()
    monkeypatch.setattr(phone_regions, "extract", lambda: pytest.fail("the table was made again"))
    assert phone_regions.load(tmp_path) == first


def test_a_damaged_table_is_made_again(tmp_path: Path) -> None:
    phone_regions.table_file(tmp_path).write_text('{"prefixes": {"8613":', encoding="utf-8")
    assert phone_regions.load(tmp_path).regions["CN"] == "中国"
    assert phone_regions.read(phone_regions.table_file(tmp_path)) is not None
