"""`make bench`, uploads: dry run and apply of 10^5 and 10^6-row CSV files against a plain COPY.

For each size a seeded CSV in the project's format is generated into var/bench/uploads/ (and
reused while the seed, size and generator are the same). Then, in a process of its own (so that
peak memory is per size), on a fresh database `nearbank_bench_uploads` migrated to head:

  1. plain COPY: `COPY places_plain FROM STDIN (FORMAT csv, HEADER)` of the file into a bare
     table of text columns (no index, no constraint), streamed by psycopg: the machine's ceiling;
  2. dry run: `submit_upload(mode="sync")`: parse, validate, COPY into upload_rows, duplicate
     ids, near-duplicates, diff; every SQL statement timed from the outside (SQLAlchemy events);
  3. apply: `apply_upload` of that batch (every valid row creates a place);
  4. re-upload: the same file dry-run again against the applied data (all unchanged);
  5. the file parsed, then parsed and checked record by record, without a database: the Python
     share of the dry run's staging step.

One dry run (10^5 rows when measured) is profiled with cProfile. The tables go to stdout and to
docs/benchmarks-uploads.md. Without DATABASE_URL a private PostGIS cluster lives in
var/bench/pgdata-uploads (durable, like `make run`'s; stopped at the end); with it, the database
is made on that server. Either way it is dropped at the end (`--keep-database` keeps it).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import hashlib
import json
import math
import os
import pstats
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType, SimpleNamespace
from typing import Any, TypeVar, cast

import psycopg
from psycopg import sql as pgsql
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from backend import vocab
from backend.config import normalise_database_url
from backend.migrate import upgrade
from backend.models import import_all_models
from backend.pgcluster import ensure_cluster, stop_cluster
from backend.regions import in_service_region
from backend.uploads import service
from backend.uploads.models import UploadBatch
from backend.uploads.parsers import COLUMNS, parse_file
from bench.generate import libpq_url

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
FILES = VAR / "uploads"
CLUSTER = VAR / "pgdata-uploads"
DOCS = ROOT / "docs" / "benchmarks-uploads.md"
MAIN_DOCS = ROOT / "docs" / "benchmarks.md"
MAIN_DOCS_LINK = ("Bulk uploads (dry run and apply of 10^5 and 10^6-row CSV files against a plain "
                  "COPY) are in [benchmarks-uploads.md](benchmarks-uploads.md).")
BENCH_DB = "nearbank_bench_uploads"
SOURCE = "bench-upload"
DEFAULT_SEED = 20261124
DEFAULT_SIZES = "100000,1000000"
QUICK_SIZES = "2000"
GENERATOR_VERSION = 1
TARGET_ROWS = 1_000_000
TARGET_SECONDS = 60.0
TARGET_COPY_SHARE = 0.2
PROFILE_ROWS = 100_000
SIZE_TIMEOUT_S = 3600.0
ERROR_SHARE = 0.005
WARNING_SHARE = 0.01
METRES_PER_DEGREE = 111_320.0
ANALYZE_LABEL = "ANALYZE the staged rows"
OTHER_SQL = "bookkeeping (batch row, source version lock, audit, refresh)"

T = TypeVar("T")


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"[bench uploads {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the generated files -----------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    """A market's conventions: time zone, money, phone numbers, hours, holidays, streets."""

    code: str
    timezone: str
    currency: str
    partner_fee: str
    phone_prefix: str
    phone_digits: int
    station_hours: str
    mall_hours: str
    post_hours: str
    post_brand: str
    convenience_brands: tuple[str, ...]
    holidays: str
    half_days: str
    streets: tuple[str, ...]
    share: float


@dataclass(frozen=True)
class Town:
    """Where places crowd: a centre, a spread in metres and a weight within its country."""

    name: str
    country: str
    region: str
    lat: float
    lon: float
    spread_m: float
    weight: float
    postcode_areas: tuple[str, ...] = ()


COUNTRIES = {
    "GB": Country(
        "GB", "Europe/London", "GBP", "0.50", "+442079460", 3,
        "Mo-Sa 05:30-00:30; Su 07:00-23:30", "Mo-Sa 09:00-21:00; Su 11:00-17:00",
        "Mo-Fr 09:00-17:30; Sa 09:00-12:30", "CornerPost", ("QuickMart", "Daily Basket"),
        '2026-12-25 off "Christmas Day"; 2026-12-28 off "Boxing Day (substitute day)"; '
        "2027-01-01 off \"New Year's Day\"",
        '2026-12-24 09:00-12:00 "Christmas Eve"',
        ("High Street", "Station Road", "Church Street", "Market Street", "Victoria Road",
         "King Street", "Queen Street", "Park Road", "London Road", "Bridge Street",
         "Castle Street", "North Road", "Mill Lane", "George Street", "Albert Road",
         "Commercial Street", "Union Street", "The Broadway", "New Street", "Corporation Street"),
        0.70),
    "SG": Country(
        "SG", "Asia/Singapore", "SGD", "1.00", "+656", 7,
        "Mo-Su 05:30-00:30", "Mo-Su 10:00-22:00", "Mo-Fr 08:30-18:00; Sa 08:30-14:00",
        "PostHub", ("QuickMart", "DailyMart"),
        "2026-12-25 off \"Christmas Day\"; 2027-01-01 off \"New Year's Day\"", "",
        ("Orchard Road", "North Bridge Road", "Jurong Gateway Road", "Tampines Central 1",
         "Ang Mo Kio Avenue 3", "Bedok North Road", "Lorong 1 Toa Payoh", "Woodlands Avenue 2",
         "Serangoon Central", "Victoria Street", "New Bridge Road", "Clementi Avenue 3"),
        0.15),
    "HK": Country(
        "HK", "Asia/Hong_Kong", "HKD", "5.00", "+8522", 7,
        "Mo-Su 06:00-01:00", "Mo-Su 10:00-22:00", "Mo-Fr 09:30-17:00; Sa 09:30-13:00",
        "CityPost", ("QuickMart", "Harbour Mart"),
        '2026-12-25 off "Christmas Day"; 2026-12-26 off "The first weekday after Christmas '
        'Day"; 2027-01-01 off "The first day of January"',
        '2026-12-24 09:00-12:00 "Christmas Eve"; 2026-12-31 09:00-12:00 "New Year\'s Eve"',
        ("Nathan Road", "Queen's Road Central", "Hennessy Road", "Des Voeux Road Central",
         "King's Road", "Argyle Street", "Castle Peak Road", "Sha Tin Centre Street",
         "Kwun Tong Road", "Lockhart Road", "Yee Wo Street", "Sai Yeung Choi Street South"),
        0.15),
}
TOWNS = (
    Town("London", "GB", "Greater London", 51.5074, -0.1278, 9000, 9.0,
         ("E", "EC", "N", "NW", "SE", "SW", "W", "WC")),
    Town("Birmingham", "GB", "West Midlands", 52.4862, -1.8904, 5000, 2.9, ("B",)),
    Town("Manchester", "GB", "Greater Manchester", 53.4808, -2.2426, 5000, 2.8, ("M",)),
    Town("Leeds", "GB", "West Yorkshire", 53.8008, -1.5491, 4000, 1.9, ("LS",)),
    Town("Glasgow", "GB", "Scotland", 55.8642, -4.2518, 4000, 1.7, ("G",)),
    Town("Liverpool", "GB", "Merseyside", 53.4084, -2.9916, 3500, 1.5, ("L",)),
    Town("Edinburgh", "GB", "Scotland", 55.9533, -3.1883, 3500, 1.3, ("EH",)),
    Town("Sheffield", "GB", "South Yorkshire", 53.3811, -1.4701, 3500, 1.2, ("S",)),
    Town("Bristol", "GB", "South West", 51.4545, -2.5879, 3500, 1.2, ("BS",)),
    Town("Newcastle upon Tyne", "GB", "North East", 54.9783, -1.6178, 3500, 1.1, ("NE",)),
    Town("Nottingham", "GB", "East Midlands", 52.9548, -1.1581, 3000, 1.0, ("NG",)),
    Town("Leicester", "GB", "East Midlands", 52.6369, -1.1398, 3000, 0.8, ("LE",)),
    Town("Cardiff", "GB", "Wales", 51.4816, -3.1791, 3000, 0.8, ("CF",)),
    Town("Southampton", "GB", "South East", 50.9097, -1.4044, 3000, 0.8, ("SO",)),
    Town("Brighton", "GB", "South East", 50.8225, -0.1372, 2500, 0.7, ("BN",)),
    Town("Norwich", "GB", "East of England", 52.6309, 1.2974, 2500, 0.4, ("NR",)),
    Town("Aberdeen", "GB", "Scotland", 57.1497, -2.0943, 2500, 0.4, ("AB",)),
    Town("Cambridge", "GB", "East of England", 52.2053, 0.1218, 2000, 0.4, ("CB",)),
    Town("Oxford", "GB", "South East", 51.7520, -1.2577, 2000, 0.4, ("OX",)),
    Town("York", "GB", "Yorkshire and the Humber", 53.9590, -1.0815, 2000, 0.3, ("YO",)),
    Town("Plymouth", "GB", "South West", 50.3755, -4.1427, 2500, 0.4, ("PL",)),
    Town("Swansea", "GB", "Wales", 51.6214, -3.9436, 2500, 0.4, ("SA",)),
    Town("Inverness", "GB", "Scotland", 57.4778, -4.2247, 2000, 0.1, ("IV",)),
    Town("Orchard", "SG", "Central Region", 1.3035, 103.8320, 2500, 3.0),
    Town("Raffles Place", "SG", "Central Region", 1.2840, 103.8510, 2000, 3.0),
    Town("Toa Payoh", "SG", "Central Region", 1.3327, 103.8474, 2500, 1.5),
    Town("Jurong East", "SG", "West Region", 1.3331, 103.7425, 3000, 1.5),
    Town("Clementi", "SG", "West Region", 1.3150, 103.7650, 2500, 1.0),
    Town("Woodlands", "SG", "North Region", 1.4365, 103.7865, 3000, 1.0),
    Town("Ang Mo Kio", "SG", "North-East Region", 1.3700, 103.8495, 3000, 1.5),
    Town("Tampines", "SG", "East Region", 1.3530, 103.9450, 3000, 1.5),
    Town("Bedok", "SG", "East Region", 1.3245, 103.9300, 2500, 1.0),
    Town("Central", "HK", "Hong Kong Island", 22.2810, 114.1575, 2000, 3.0),
    Town("Causeway Bay", "HK", "Hong Kong Island", 22.2800, 114.1840, 2000, 3.0),
    Town("North Point", "HK", "Hong Kong Island", 22.2893, 114.1995, 2000, 1.0),
    Town("Tsim Sha Tsui", "HK", "Kowloon", 22.2990, 114.1730, 2000, 3.0),
    Town("Mong Kok", "HK", "Kowloon", 22.3185, 114.1695, 2500, 3.0),
    Town("Kwun Tong", "HK", "Kowloon", 22.3135, 114.2260, 2500, 1.5),
    Town("Sha Tin", "HK", "New Territories", 22.3815, 114.1870, 3000, 1.5),
    Town("Tsuen Wan", "HK", "New Territories", 22.3725, 114.1170, 3000, 1.0),
    Town("Tuen Mun", "HK", "New Territories", 22.3925, 113.9770, 3000, 1.0),
    Town("Yuen Long", "HK", "New Territories", 22.4450, 114.0270, 3000, 1.0),
)
CONVENIENCE_HOURS = ("24/7", "24/7", "Mo-Su 07:00-23:00",
                     "Mo-Th 07:00-23:00; Fr-Sa 07:00-02:00; Su 08:00-23:00", "Mo-Su 06:00-01:00")
BRANCH_BASE = ("CounterServices", "AssistedServiceCounter", "ExternalATM")
BRANCH_OPTIONAL = tuple(s for s in vocab.BRANCH_SERVICES
                        if s not in (*BRANCH_BASE, "SaturdayCounterService"))
ATM_BASE = ("CashWithdrawal", "Balance", "PINChange")
ATM_OPTIONAL = ("MiniStatement", "FastCash", "PINUnblock", "PINActivation", "MobilePhoneTopUp",
                "BillPayments", "CharityDonation", "OrderStatement", "MobileBankingRegistration",
                "MobilePaymentRegistration")
BRANCH_ACCESS = ("AutomaticDoors", "InternalRamp", "InductionLoop", "LowerLevelCounter",
                 "HelpingHandUnit")
SMALL_ACCESS = ("LevelAccess", "AutomaticDoors", "WheelchairAccess")
ATM_ACCESS = ("AudioCashMachine", "WheelchairAccess", "LevelAccess")
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
# Planted problems: each error kind rejects its record, each warning kind warns about it.
ERROR_KINDS = ("kind", "lat", "name", "repayment_methods", "repayment_cutoff", "timezone",
               "opening_hours", "last_verified_at", "source")
WARNING_KINDS = ("services", "accessibility", "timezone", "country", "swapped", "null_island",
                 "other_region", "near_duplicate")
Row = dict[str, str]


@dataclass
class FileInfo:
    """A generated CSV file and what was planted in it."""

    path: Path
    rows: int
    seed: int
    bytes: int
    planted_errors: int
    planted_warnings: int
    planted_near_duplicates: int
    distinct_hours: int
    countries: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """The sidecar's content."""
        return {**asdict(self), "path": str(self.path), "generator": GENERATOR_VERSION}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileInfo:
        """Read back a sidecar's content."""
        values = {k: v for k, v in data.items() if k != "generator"}
        return cls(**{**values, "path": Path(values["path"])})


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _town_weights() -> list[float]:
    """Cumulative weights of TOWNS: each country's share split by its towns' weights."""
    per_country = {code: sum(t.weight for t in TOWNS if t.country == code) for code in COUNTRIES}
    return _cumulative([COUNTRIES[t.country].share * t.weight / per_country[t.country]
                        for t in TOWNS])


def _point(rng: random.Random, town: Town) -> tuple[float, float]:
    """A point around a town centre (lognormal distance), inside the town's service region."""
    for _ in range(50):
        distance = town.spread_m * rng.lognormvariate(-0.7, 0.7)
        bearing = rng.uniform(0.0, 2.0 * math.pi)
        lat = round(town.lat + distance * math.cos(bearing) / METRES_PER_DEGREE, 6)
        lon = round(town.lon + distance * math.sin(bearing)
                    / (METRES_PER_DEGREE * math.cos(math.radians(town.lat))), 6)
        if in_service_region(lat, lon) == town.country:
            return lat, lon
    return town.lat, town.lon


def _postcode(rng: random.Random, town: Town) -> str:
    if town.country == "GB":
        inward = f"{rng.randint(1, 9)}{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
        return f"{rng.choice(town.postcode_areas)}{rng.randint(1, 20)} {inward}"
    if town.country == "SG":
        return f"{rng.randrange(1, 83):02d}{rng.randrange(10_000):04d}"
    return ""  # Hong Kong has no postcodes


def _street(rng: random.Random, country: Country, street: str, house: int) -> str:
    if country.code == "SG" and rng.random() < 0.3:
        return f"{house} {street} #{rng.choice(('B1', '01', '02', '03'))}-{rng.randint(1, 80):02d}"
    if country.code == "HK" and rng.random() < 0.3:
        return f"Shop {rng.choice(('G', '1', '2'))}{rng.randint(1, 60):02d}, {house} {street}"
    return f"{house} {street}"


def _verified(rng: random.Random, country: Country) -> str:
    day = date(2026, 3, 1) + timedelta(days=rng.randrange(260))
    moment = datetime(day.year, day.month, day.day, rng.randint(8, 18), rng.randrange(60))
    if country.code != "GB":
        offset = "+08:00"
    else:  # British Summer Time from 29 March to 25 October 2026
        offset = "+01:00" if date(2026, 3, 29) <= day < date(2026, 10, 25) else "+00:00"
    return moment.isoformat() + offset


def _branch_hours(rng: random.Random, country: Country) -> tuple[str, str]:
    opens = rng.choice(("08:30", "09:00", "09:00", "09:30"))
    closes = rng.choice(("16:30", "17:00", "17:00", "17:30"))
    roll = rng.random()
    if roll < 0.1:
        weekly = f"Mo-Fr {opens}-12:30,13:30-{closes}"
    elif roll < 0.2:
        weekly = f"Mo-Th {opens}-{closes}; Fr {opens}-18:00"
    else:
        weekly = f"Mo-Fr {opens}-{closes}"
    weekly += rng.choice(("", "", "; Sa 09:00-12:30", "; Sa 10:00-13:00"))
    exceptions = country.holidays
    if country.half_days and rng.random() < 0.6:
        exceptions = f"{country.half_days}; {exceptions}"
    return weekly, exceptions


def _place(rng: random.Random, number: int, town: Town) -> Row:
    """One clean record in the project's CSV notation."""
    country = COUNTRIES[town.country]
    roll = rng.random()
    kind = "branch" if roll < 0.2 else "atm" if roll < 0.75 else "partner_outlet"
    lat, lon = _point(rng, town)
    street_name = rng.choice(country.streets)
    house = rng.randint(1, 240)
    row: Row = dict.fromkeys(COLUMNS, "")
    row.update(source=SOURCE, kind=kind, street=_street(rng, country, street_name, house),
               locality="Singapore" if country.code == "SG" else town.name, region=town.region,
               postcode=_postcode(rng, town), country=country.code, lat=f"{lat:.6f}",
               lon=f"{lon:.6f}", timezone=country.timezone,
               last_verified_at=_verified(rng, country))
    status = rng.random()
    row["status"] = "decommissioned" if status < 0.005 else "temporarily_closed" \
        if status < 0.025 else "active"
    digits = country.phone_digits
    phone = f"{country.phone_prefix}{rng.randrange(10 ** digits):0{digits}d}"
    if kind == "branch":
        row["external_id"] = f"BR-{country.code}-{number:07d}"
        row["name"] = f"Nearbank {town.name} {street_name}"
        row["brand"] = "Nearbank"
        row["opening_hours"], row["hours_exceptions"] = _branch_hours(rng, country)
        services = [*BRANCH_BASE, *rng.sample(BRANCH_OPTIONAL, rng.randint(1, 6))]
        if "Sa " in row["opening_hours"]:
            services.append("SaturdayCounterService")
        access = [rng.choice(("LevelAccess", "ExternalRamp")), "WheelchairAccess",
                  *rng.sample(BRANCH_ACCESS, rng.randint(0, 3))]
        row.update(repayment_methods="cash;cheque;debit_card;bank_transfer",
                   repayment_fee="0.00", repayment_fee_currency=country.currency,
                   repayment_posting="same_day", repayment_cutoff="16:00", phone=phone)
    elif kind == "atm":
        row["external_id"] = f"ATM-{country.code}-{number:07d}"
        row["name"] = f"Nearbank ATM {house} {street_name}"
        row["brand"] = "Nearbank"
        row["opening_hours"] = rng.choices(
            ("24/7", country.station_hours, country.mall_hours), weights=(60, 15, 25))[0]
        services = [*ATM_BASE, *rng.sample(ATM_OPTIONAL, rng.randint(0, 3))]
        access = rng.sample(ATM_ACCESS, rng.randint(0, 2))
        if rng.random() < 0.5:
            services.append("CashDeposits")
            row.update(repayment_methods="cash", repayment_fee="0.00",
                       repayment_fee_currency=country.currency,
                       repayment_posting=rng.choice(("instant", "instant", "same_day")),
                       repayment_cutoff=rng.choice(("20:00", "20:00", "21:00", "19:30")))
    else:
        post = rng.random() < 1 / 3
        brand = country.post_brand if post else rng.choice(country.convenience_brands)
        row["external_id"] = f"PO-{country.code}-{number:07d}"
        row["name"] = f"{brand} {house} {street_name}"
        row["brand"] = brand
        if post:
            row["opening_hours"] = country.post_hours
            row["hours_exceptions"] = country.holidays if country.code == "GB" else ""
            services = ["PartnerTillRepayment", "BillPayments"]
        else:
            row["opening_hours"] = rng.choice(CONVENIENCE_HOURS)
            services = ["PartnerTillRepayment", *rng.sample(("MobilePhoneTopUp", "BillPayments"),
                                                              rng.randint(0, 2))]
        access = rng.sample(SMALL_ACCESS, rng.randint(0, 2))
        row.update(repayment_methods="cash;debit_card" if rng.random() < 0.35 else "cash",
                   repayment_fee=country.partner_fee, repayment_fee_currency=country.currency,
                   repayment_posting="two_business_days" if post else "next_business_day",
                   repayment_cutoff="17:00" if post else "18:00",
                   phone=phone if rng.random() < 0.8 else "")
    if rng.random() < 0.03:
        row["opening_hours"] = row["hours_exceptions"] = ""  # hours unknown
    row["services"] = ";".join(services)
    row["accessibility"] = ";".join(access)
    return row


def _plant_error(rng: random.Random, row: Row) -> None:
    """Make a record invalid in one of the ways people get it wrong."""
    problem = rng.choice(ERROR_KINDS)
    if problem == "kind":
        row["kind"] = "bank"
    elif problem == "lat":
        row["lat"] = "N/A"
    elif problem == "name":
        row["name"] = ""
    elif problem == "repayment_methods":
        row["repayment_methods"] = ";".join(filter(None, (row["repayment_methods"], "paypal")))
    elif problem == "repayment_cutoff":
        row["repayment_cutoff"] = "25:00"
    elif problem == "timezone":
        row["timezone"] = "Europe/Londres"
    elif problem == "opening_hours":
        row["opening_hours"] = "Mo-Fr 9am-5pm"
    elif problem == "last_verified_at":
        row["last_verified_at"] = row["last_verified_at"][:16].replace("T", " ")
    else:
        row["source"] = "another-source"


def _plant_warning(rng: random.Random, row: Row, previous: Row | None) -> str:
    """Give a record something to warn about; the kind of warning planted."""
    problem = rng.choice(WARNING_KINDS)
    if problem == "swapped" and row["country"] != "GB":
        problem = "services"  # a swapped Asian point is not a coordinate at all: an error
    if problem == "near_duplicate" and previous is None:
        problem = "accessibility"
    if problem == "services":
        row["services"] += ";ContactlessPay"
    elif problem == "accessibility":
        row["accessibility"] = ";".join(filter(None, (row["accessibility"], "StepFreeAccess")))
    elif problem == "timezone":
        row["timezone"] = ""
    elif problem == "country":
        row["country"] = ""
    elif problem == "swapped":
        row["lat"], row["lon"] = row["lon"], row["lat"]
    elif problem == "null_island":
        row["lat"], row["lon"] = "0.000100", "0.000200"  # near (0, 0); exactly (0, 0) is an error
    elif problem == "other_region":
        elsewhere = rng.choice([t for t in TOWNS if t.country != row["country"]])
        lat, lon = _point(rng, elsewhere)
        row["lat"], row["lon"] = f"{lat:.6f}", f"{lon:.6f}"
    else:  # the place before, listed again under another id about 3 m away
        assert previous is not None
        for column in ("kind", "name", "brand", "street", "locality", "region", "postcode",
                       "country", "timezone"):
            row[column] = previous[column]
        row["lat"] = f"{float(previous['lat']) + 0.00002:.6f}"
        row["lon"] = f"{float(previous['lon']) + 0.00002:.6f}"
    return problem


def generate_rows(count: int, seed: int) -> Iterator[tuple[Row, str | None]]:
    """`count` records and what was planted in each ("error", a warning kind, or None)."""
    rng = random.Random(f"{seed}-uploads")
    weights = _town_weights()
    previous: Row | None = None
    for number in range(1, count + 1):
        town = rng.choices(TOWNS, cum_weights=weights)[0]
        row = _place(rng, number, town)
        roll = rng.random()
        planted: str | None = None
        if roll < ERROR_SHARE:
            _plant_error(rng, row)
            planted = "error"
        elif roll < ERROR_SHARE + WARNING_SHARE:
            planted = _plant_warning(rng, row, previous)
        # A near-duplicate needs a clean place before it (the warning goes to that one).
        previous = row if planted is None else None
        yield row, planted


def csv_path(rows: int, seed: int, directory: Path) -> Path:
    """Where the file of `rows` records of `seed` lives."""
    return directory / f"places-{rows}-seed{seed}.csv"


def ensure_csv(rows: int, seed: int, directory: Path = FILES, progress: bool = True) -> FileInfo:
    """The generated file: reused when its sidecar matches, else written (atomically)."""
    path = csv_path(rows, seed, directory)
    sidecar = path.with_suffix(".json")
    if path.exists() and sidecar.exists():
        data = json.loads(sidecar.read_text())
        if data.get("generator") == GENERATOR_VERSION and data.get("rows") == rows \
                and data.get("seed") == seed and data.get("bytes") == path.stat().st_size:
            if progress:
                log(f"reusing {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
            return FileInfo.from_json({**data, "path": str(path)})
    directory.mkdir(parents=True, exist_ok=True)
    started = last = time.monotonic()
    errors = warnings = near = 0
    countries: dict[str, int] = {}
    hours: set[tuple[str, str]] = set()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=directory,
                                     prefix=path.name, suffix=".tmp", delete=False) as out:
        try:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(COLUMNS)
            for done, (row, planted) in enumerate(generate_rows(rows, seed), start=1):
                writer.writerow([row[c] for c in COLUMNS])
                errors += planted == "error"
                warnings += planted not in (None, "error")
                near += planted == "near_duplicate"
                countries[row["country"]] = countries.get(row["country"], 0) + 1
                hours.add((row["opening_hours"], row["hours_exceptions"]))
                now = time.monotonic()
                if progress and (now - last >= 2.0 or done == rows):
                    last = now
                    log(f"  generating {path.name}: {done:,}/{rows:,} rows "
                        f"({done / max(now - started, 1e-9):,.0f} rows/s)")
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    os.replace(out.name, path)
    path.chmod(0o644)
    info = FileInfo(path, rows, seed, path.stat().st_size, errors, warnings, near, len(hours),
                    countries)
    sidecar.write_text(json.dumps(info.to_json(), indent=1))
    return info


# --- measuring -------------------------------------------------------------------------------

STATEMENT_KINDS = (
    (re.compile(r"ANALYZE upload_stage"), ANALYZE_LABEL),
    (re.compile(r"CREATE TEMP TABLE upload_stage"), "staging: temp table"),
    (re.compile(r"WITH ranked"), "duplicate ids (window over the staged rows)"),
    (re.compile(r"WITH superseded"), "duplicate ids: superseded by a rejected record"),
    (re.compile(r"CREATE TEMP TABLE staged_points"), "near-duplicates: temp table of points"),
    (re.compile(r"CREATE INDEX ON staged_points"), "near-duplicates: GiST index on it"),
    (re.compile(r"ANALYZE staged_points"), "near-duplicates: ANALYZE it"),
    (re.compile(r"FROM staged_points a JOIN staged_points b"),
     "near-duplicates: pairs within the file"),
    (re.compile(r"FROM staged_points s CROSS JOIN LATERAL"),
     "near-duplicates: pairs with places"),
    (re.compile(r"INSERT INTO upload_issues"), "near-duplicates: insert warnings"),
    (re.compile(r"DROP TABLE staged_points"), "near-duplicates: drop temp table"),
    (re.compile(r"INSERT INTO upload_rows \(batch_id, seq, locator"),
     "diff: upload_rows written, joined with places (changed fields, actions)"),
    (re.compile(r"'decommission', p\.id"), "sync: places missing from the file"),
    (re.compile(r"DROP TABLE upload_stage"), "staging: drop temp table"),
    (re.compile(r"ANALYZE upload_rows"), "ANALYZE upload_rows (for the apply)"),
    (re.compile(r"GROUP BY action|count\(DISTINCT seq\)"), "summary counts"),
    # Each apply statement writes places and their history rows (both snapshots) at once.
    (re.compile(r"UPDATE places p SET status = 'decommissioned'"),
     "apply: decommission, with history"),
    (re.compile(r"UPDATE places p SET"), "apply: update changed places, with history"),
    (re.compile(r"INSERT INTO places "), "apply: insert new places, with history"),
    (re.compile(r"INSERT INTO place_history[^;]*before,\s*changed_by"),
     "apply: history before (updates)"),
    (re.compile(r"INSERT INTO place_history"), "apply: history of created places"),
    (re.compile(r"UPDATE place_history h SET after"), "apply: history after-snapshots"),
)


def statement_kind(statement: str) -> str:
    """What a statement of the upload workflow does (OTHER_SQL for the small ones)."""
    for pattern, label in STATEMENT_KINDS:
        if pattern.search(statement):
            return label
    return OTHER_SQL


class StatementClock:
    """Wall time of every SQL statement an engine runs, labelled by kind, in order."""

    KEY = "bench_uploads_started"

    def __init__(self, engine: Engine) -> None:
        self.events: list[tuple[str, float, float]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        conn.info.setdefault(self.KEY, []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        started = conn.info[self.KEY].pop()
        self.events.append((statement_kind(statement), started, time.perf_counter()))

    def split(self, start: float, end: float) -> tuple[dict[str, float], float | None]:
        """Seconds per statement kind within [start, end], and the staging time before ANALYZE.

        Staging (parse, validate, COPY into upload_rows and upload_issues) runs on the raw
        psycopg connection, which SQLAlchemy does not see: it is the time before the first SQL
        statement that follows it (ANALYZE upload_rows) not spent in a statement.
        """
        events = [e for e in self.events if e[1] >= start and e[2] <= end]
        sql: dict[str, float] = {}
        for label, began, ended in events:
            sql[label] = sql.get(label, 0.0) + ended - began
        stage, previous_end = 0.0, start
        for label, began, ended in events:
            stage += began - previous_end
            if label == ANALYZE_LABEL:
                return sql, stage
            previous_end = ended
        return sql, None


@dataclass
class Phase:
    """One timed step: wall seconds, SQL seconds by statement kind, memory."""

    seconds: float
    sql: dict[str, float] = field(default_factory=dict)
    stage_s: float | None = None
    rss_before_mib: float | None = None
    peak_rss_mib: float | None = None
    backend_peak_mib: float | None = None

    @property
    def other_s(self) -> float:
        """Wall time neither staging nor a timed statement: Python between statements, commit."""
        return self.seconds - (self.stage_s or 0.0) - sum(self.sql.values())


@dataclass
class SizeResult:
    """Everything measured for one file."""

    rows: int
    file_mib: float
    copy: Phase
    copy_rows: int
    dry_run: Phase
    apply: Phase
    reupload: Phase
    dry_summary: dict[str, int]
    reupload_summary: dict[str, int]
    places: int
    near_duplicate_warnings: int
    parse_s: float
    check_s: float
    parsed: int
    relation_mib: dict[str, float]
    file_warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SizeResult:
        """Back from to_json."""
        phases = {k: Phase(**data[k]) for k in ("copy", "dry_run", "apply", "reupload")}
        return cls(**{**data, **phases})

    @property
    def upload_s(self) -> float:
        """Dry run plus apply, seconds."""
        return self.dry_run.seconds + self.apply.seconds

    @property
    def copy_share(self) -> float:
        """(dry run + apply) rows/s over plain COPY rows/s."""
        return self.copy.seconds / self.upload_s

    def consistency(self, info: FileInfo | None = None) -> list[str]:
        """What does not add up (empty when every count agrees)."""
        s, again = self.dry_summary, self.reupload_summary
        valid = self.rows - s["rejected"]
        checks = [
            (s["records"] == self.rows, f"dry run read {s['records']} records of {self.rows}"),
            (s["create"] == valid, f"{s['create']} creates for {valid} valid records"),
            (self.places == s["create"], f"{self.places} places after apply, {s['create']} "
                                         "creates"),
            (self.copy_rows == self.rows, f"plain COPY took {self.copy_rows} rows"),
            (self.parsed == self.rows, f"the parse pass read {self.parsed} records"),
            (again["unchanged"] == valid and again["create"] == again["update"] == 0,
             f"re-upload: {again}"),
            (again["rejected"] == s["rejected"], "re-upload rejected another number"),
        ]
        if info is not None:
            checks.append((s["rejected"] == info.planted_errors,
                           f"{s['rejected']} rejected, {info.planted_errors} errors planted"))
        return [message for ok, message in checks if not ok]


def _proc_kib(pid: int | str, key: str) -> int | None:
    """A /proc/PID/status value in KiB (VmRSS, VmHWM), None when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _reset_peak(pid: int | str) -> None:
    """Reset a process's peak RSS (VmHWM) to its current RSS (Linux clear_refs 5)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024


def _local_backend(pid: int) -> bool:
    """Whether `pid` is a PostgreSQL backend on this machine (not a remote server's pid)."""
    try:
        return b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Bench:
    """An engine on the bench database, with its statement clock."""

    def __init__(self, url: str, timeout_s: float = SIZE_TIMEOUT_S) -> None:
        self.url = url
        self.local = make_url(url).host in ("127.0.0.1", "localhost", "::1", None)
        self.engine = create_engine(url, poolclass=NullPool, connect_args={
            "application_name": "nearbank-bench-uploads",
            "options": f"-c statement_timeout={int(timeout_s * 1000)}"})
        self.clock = StatementClock(self.engine)

    def checkpoint(self) -> None:
        """Write out dirty buffers, so a step does not pay for the previous one's."""
        with psycopg.connect(libpq_url(self.url), autocommit=True) as conn, \
                contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")

    def phase(self, action: Callable[[Session], T]) -> tuple[T, Phase]:
        """Run `action` in a session of its own connection; its timing and memory."""
        with self.engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            conn.commit()
            backend = self.local and _local_backend(pid)
            if backend:
                _reset_peak(pid)
            _reset_peak("self")
            rss = _proc_kib("self", "VmRSS")
            with Session(bind=conn, expire_on_commit=False) as session:
                start = time.perf_counter()
                value = action(session)
                end = time.perf_counter()
            backend_peak = _proc_kib(pid, "VmHWM") if backend else None
            peak = _proc_kib("self", "VmHWM")
        sql, stage = self.clock.split(start, end)
        return value, Phase(end - start, sql, stage, _mib(rss), _mib(peak), _mib(backend_peak))

    def plain_copy(self, path: Path) -> tuple[int, Phase]:
        """COPY the file as it is into a bare table of text columns; rows and timing."""
        columns = pgsql.SQL(", ").join(pgsql.SQL("{} text").format(pgsql.Identifier(c))
                                       for c in COLUMNS)
        with psycopg.connect(libpq_url(self.url), autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS places_plain")
            conn.execute(pgsql.SQL("CREATE TABLE places_plain ({}) WITH "
                                   "(autovacuum_enabled = false)").format(columns))
            pid = conn.info.backend_pid
            backend = self.local and _local_backend(pid)
            if backend:
                _reset_peak(pid)
            _reset_peak("self")
            rss = _proc_kib("self", "VmRSS")
            start = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur, path.open("rb") as stream:
                with cur.copy("COPY places_plain FROM STDIN (FORMAT csv, HEADER)") as copy:
                    while chunk := stream.read(1 << 20):
                        copy.write(chunk)
                rows = cur.rowcount
            seconds = time.perf_counter() - start
            phase = Phase(seconds, {}, None, _mib(rss), _mib(_proc_kib("self", "VmHWM")),
                          _mib(_proc_kib(pid, "VmHWM")) if backend else None)
            conn.execute("DROP TABLE places_plain")
        return rows, phase


class RateLog:
    """submit_upload's progress callback: a line every few seconds with the rate."""

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self.start = self.last = time.monotonic()
        self.shown = 0

    def __call__(self, records: int) -> None:
        """Print records read so far and the rate, at most every 5 s and at the end."""
        now = time.monotonic()
        if self.enabled and records > self.shown and (now - self.last >= 5.0
                                                      or records >= self.total):
            self.last, self.shown = now, records
            log(f"  {self.label}: {records:,}/{self.total:,} records staged "
                f"({records / max(now - self.start, 1e-9):,.0f} records/s)")


def _submit(info: FileInfo, label: str, progress: bool) -> Callable[[Session], UploadBatch]:
    def run(session: Session) -> UploadBatch:
        with info.path.open("rb") as stream:
            return service.submit_upload(session, stream, info.path.name, SOURCE, "sync",
                                         actor_id=None, via="bench",
                                         progress=RateLog(label, info.rows, progress))
    return run


def _apply(batch_id: int) -> Callable[[Session], UploadBatch]:
    def run(session: Session) -> UploadBatch:
        batch = session.get(UploadBatch, batch_id)
        assert batch is not None
        return service.apply_upload(session, batch, actor_id=None, via="bench")
    return run


def parse_pass(path: Path) -> tuple[float, int]:
    """Seconds to parse the file with the upload parser alone, and the records read."""
    start, count = time.perf_counter(), 0
    with path.open("rb") as stream:
        for _ in parse_file(stream, path.name, "nearbank-csv"):
            count += 1
    return time.perf_counter() - start, count


def check_pass(path: Path) -> float:
    """Seconds to parse the file and check every record as the dry run does (no database)."""
    batch = cast(UploadBatch, SimpleNamespace(source=SOURCE))
    start = time.perf_counter()
    with path.open("rb") as stream:
        for raw in parse_file(stream, path.name, "nearbank-csv"):
            service._check(batch, raw, None)
    return time.perf_counter() - start


def measure_size(url: str, info: FileInfo, progress: bool = True,
                 timeout_s: float = SIZE_TIMEOUT_S) -> SizeResult:
    """Plain COPY, dry run, apply and re-upload of one file on a migrated, empty database."""
    import_all_models()
    bench = Bench(url, timeout_s)
    try:
        with info.path.open("rb") as stream:  # into the page cache: every step reads it warm
            while stream.read(1 << 24):
                pass
        if progress:
            log(f"{info.rows:,} rows: plain COPY")
        copy_rows, copy = bench.plain_copy(info.path)
        if progress:
            log(f"  {copy.seconds:.1f} s, {info.rows / copy.seconds:,.0f} rows/s")
        bench.checkpoint()
        if progress:
            log(f"{info.rows:,} rows: dry run")
        batch, dry_run = bench.phase(_submit(info, "dry run", progress))
        if progress:
            log(f"  {dry_run.seconds:.1f} s, {info.rows / dry_run.seconds:,.0f} rows/s; "
                f"{batch.summary}")
        bench.checkpoint()
        if progress:
            log(f"{info.rows:,} rows: apply")
        _, applied = bench.phase(_apply(batch.id))
        if progress:
            log(f"  {applied.seconds:.1f} s, {info.rows / applied.seconds:,.0f} rows/s")
        bench.checkpoint()
        if progress:
            log(f"{info.rows:,} rows: re-upload (dry run against the applied data)")
        again, reupload = bench.phase(_submit(info, "re-upload", progress))
        if progress:
            log(f"  {reupload.seconds:.1f} s; {again.summary}")
            log(f"{info.rows:,} rows: parse-only and parse + check passes (no database)")
        parse_s, parsed = parse_pass(info.path)
        check_s = check_pass(info.path)
        if progress:
            log(f"  parse {parse_s:.1f} s, parse + check {check_s:.1f} s")
        with bench.engine.connect() as conn:
            places = conn.execute(text("SELECT count(*) FROM places WHERE source = :s"),
                                  {"s": SOURCE}).scalar_one()
            near = conn.execute(text(
                "SELECT count(*) FROM upload_issues WHERE batch_id = :b AND field = 'location' "
                "AND message LIKE '%the same place twice?'"), {"b": batch.id}).scalar_one()
            file_warnings = list(conn.execute(text(
                "SELECT DISTINCT message FROM upload_issues WHERE batch_id = :b "
                "AND seq IS NULL ORDER BY message"), {"b": batch.id}).scalars())
            sizes = dict(conn.execute(text(
                "SELECT relname, pg_total_relation_size(oid) / 1048576.0 FROM pg_class "
                "WHERE relname IN ('places', 'upload_rows', 'upload_issues', 'place_history') "
                "AND relkind = 'r' ORDER BY relname")).all())
    finally:
        bench.engine.dispose()
    return SizeResult(info.rows, info.bytes / 2**20, copy, copy_rows, dry_run, applied, reupload,
                      dict(batch.summary), dict(again.summary), places, near, parse_s, check_s,
                      parsed, {k: float(v) for k, v in sizes.items()}, file_warnings)


# --- the profile -------------------------------------------------------------------------------

# Self time goes to the first component whose path fragment is in the function's file; C
# functions (file "~") go to their callers in proportion. psycopg's wait() blocks in C code that
# cProfile does not see, so its self time is time blocked on the server: split by its caller.
PROFILE_COMPONENTS = (
    ("CSV reading and parsing (csv, UTF-8 decoding, backend/uploads/parsers)",
     ("/backend/uploads/parsers/", "/csv.py", "/codecs.py")),
    ("record validation (validation.py, hours, zoneinfo, decimal)",
     ("/backend/uploads/validation.py", "/backend/hours.py", "zoneinfo", "decimal")),
    ("location checks (checks.py, regions.py, shapely)",
     ("/backend/uploads/checks.py", "/backend/regions.py", "/shapely/")),
    ("COPY rows: psycopg adapting each value (arrays, JSONB through json.dumps, dates, "
     "numbers) and sending", ("/psycopg/", "/psycopg_binary/", "/json/")),
    ("staging loop and issue spool (service.py, csv writer, spool file)",
     ("/backend/uploads/service.py", "tempfile")),
    ("SQLAlchemy", ("/sqlalchemy/",)),
)
COPY_WAIT = "waiting on PostgreSQL during the COPY (the server busy with the rows)"
SQL_WAIT = "waiting on PostgreSQL: SQL statements and commit"
WAIT_FUNCTIONS = re.compile(r"^wait|\bwait_|select\.|poll")
PROFILE_OTHER = "other Python"
ProfileKey = tuple[str, int, str]


@dataclass
class ProfileResult:
    """A cProfile'd dry run: total, SQL steps, components and the busiest functions."""

    rows: int
    seconds: float
    stage_s: float | None
    sql_s: float
    components: list[tuple[str, float]]
    functions: list[tuple[str, int, float, float]]  # name, calls, self s, cumulative s

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProfileResult:
        """Back from asdict."""
        return cls(data["rows"], data["seconds"], data["stage_s"], data["sql_s"],
                   [(a, b) for a, b in data["components"]],
                   [(a, b, c, d) for a, b, c, d in data["functions"]])


def _function_name(key: ProfileKey) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    if "/site-packages/" in filename:
        short = filename.split("/site-packages/")[-1]
    elif filename.startswith(str(ROOT) + "/"):
        short = filename[len(str(ROOT)) + 1:]
    else:  # the standard library
        short = "/".join(Path(filename).parts[-2:])
    return f"{short}:{line} {name}"


def _is_wait(key: ProfileKey) -> bool:
    filename, _, name = key
    return bool(WAIT_FUNCTIONS.search(name)) and (filename == "~" or "/psycopg/" in filename)


def _component(key: ProfileKey) -> str | None:
    """The component of a Python function's self time; None for a C function."""
    filename = key[0]
    if filename == "~":
        return None
    for label, fragments in PROFILE_COMPONENTS:
        if any(fragment in filename for fragment in fragments):
            return label
    return PROFILE_OTHER


def profile_components(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Self time per component, largest first."""
    raw = stats.stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for key, (_, _, self_time, _, callers) in raw.items():
        label = None if _is_wait(key) else _component(key)
        if label is not None:
            totals[label] = totals.get(label, 0.0) + self_time
            continue
        spent = {caller: value[2] for caller, value in callers.items()}  # caller -> tt in key
        weight = sum(spent.values())
        if not weight:
            totals[PROFILE_OTHER] = totals.get(PROFILE_OTHER, 0.0) + self_time
            continue
        for caller, seconds in spent.items():
            if _is_wait(key):
                owner = COPY_WAIT if "copy" in caller[0] else SQL_WAIT
            else:
                owner = _component(caller) or PROFILE_OTHER
            totals[owner] = totals.get(owner, 0.0) + self_time * seconds / weight
    return sorted(totals.items(), key=lambda item: -item[1])


def profile_dry_run(url: str, info: FileInfo) -> ProfileResult:
    """One dry run of the file under cProfile, on a migrated, empty database."""
    import_all_models()
    bench = Bench(url)
    profiler = cProfile.Profile()
    try:
        log(f"profiling a dry run of {info.rows:,} rows (cProfile slows Python down)")

        def run(session: Session) -> UploadBatch:
            with info.path.open("rb") as stream:
                profiler.enable()
                try:
                    return service.submit_upload(session, stream, info.path.name, SOURCE,
                                                 "sync", actor_id=None, via="bench")
                finally:
                    profiler.disable()

        _, phase = bench.phase(run)
    finally:
        bench.engine.dispose()
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    busiest = sorted(raw.items(), key=lambda item: -item[1][2])[:15]
    functions = [(_function_name(key), int(value[1]), value[2], value[3])
                 for key, value in busiest]
    log(f"  {phase.seconds:.1f} s under the profiler")
    return ProfileResult(info.rows, phase.seconds, phase.stage_s, sum(phase.sql.values()),
                         profile_components(stats), functions)


# --- the database server ------------------------------------------------------------------------


def bench_server() -> tuple[str, Path | None]:
    """(SQLAlchemy URL of a database on the bench server, private cluster dir or None)."""
    given = os.environ.get("DATABASE_URL")
    if given:
        url = normalise_database_url(given)
        server = make_url(url)
        log(f"database {BENCH_DB} on {server.host}:{server.port or 5432} (from DATABASE_URL)")
        return url, None
    cluster = ensure_cluster(CLUSTER)
    log(f"private PostGIS cluster on 127.0.0.1:{cluster.port} ({CLUSTER.relative_to(ROOT)})")
    return cluster.admin_url, CLUSTER


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the server of `server_url`; its SQLAlchemy URL."""
    drop_database(server_url, name)
    with psycopg.connect(libpq_url(normalise_database_url(server_url)), autocommit=True) as conn:
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    return make_url(normalise_database_url(server_url)).set(database=name) \
        .render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    """Drop database `name` (and its sessions) on the server of `server_url`, if it is there."""
    with psycopg.connect(libpq_url(normalise_database_url(server_url)), autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                     .format(pgsql.Identifier(name)))


def server_info(url: str) -> dict[str, str]:
    """PostgreSQL and PostGIS versions and the settings that matter to bulk loads."""
    info = {}
    with psycopg.connect(libpq_url(url)) as conn:
        for key, query in (("postgresql", "SHOW server_version"),
                           ("postgis", "SELECT postgis_lib_version()"),
                           *((name, f"SHOW {name}") for name in (
                               "shared_buffers", "work_mem", "maintenance_work_mem",
                               "max_wal_size", "fsync", "synchronous_commit",
                               "full_page_writes", "wal_level", "jit"))):
            row = conn.execute(query).fetchone()  # type: ignore[arg-type]
            info[key] = str(row[0]) if row else "?"
    return info


def run_worker(kind: str, server_url: str, info: FileInfo, timeout_s: float,
               server: dict[str, str]) -> dict[str, Any]:
    """Measure (or profile) one file in a fresh database and a process of its own."""
    url = recreate_database(server_url, BENCH_DB)
    upgrade(url)
    if not server:
        server.update(server_info(url))
    with tempfile.NamedTemporaryFile(suffix=".json", dir=VAR, delete=False) as handle:
        result = Path(handle.name)
    try:
        subprocess.run([sys.executable, "-m", "bench.uploads", "--worker", kind,
                        "--database-url", url, "--csv", str(info.path), "--result", str(result),
                        "--timeout", str(timeout_s)],
                       cwd=ROOT, check=True, timeout=timeout_s)
        return json.loads(result.read_text())
    finally:
        result.unlink(missing_ok=True)


def worker_main(args: argparse.Namespace) -> int:
    """The child process: measure or profile one file, write the result as JSON."""
    info = FileInfo.from_json(json.loads(Path(args.csv).with_suffix(".json").read_text())
                              | {"path": args.csv})
    if args.worker == "measure":
        data = measure_size(args.database_url, info, True, args.timeout).to_json()
    else:
        data = asdict(profile_dry_run(args.database_url, info))
    Path(args.result).write_text(json.dumps(data))
    return 0


# --- the report --------------------------------------------------------------------------------


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "-"


def _mib_text(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def results_table(results: list[SizeResult]) -> str:
    """Seconds and rows per second of every step."""
    lines = ["| rows | file MiB | plain COPY | dry run | apply | dry run + apply | "
             "share of plain COPY rate | re-upload (dry run, all unchanged) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        cells = [f"{r.rows:,}", f"{r.file_mib:,.0f}"]
        for seconds in (r.copy.seconds, r.dry_run.seconds, r.apply.seconds, r.upload_s):
            cells.append(f"{seconds:,.1f} s = {_rate(r.rows, seconds)} rows/s")
        cells.append(f"{r.copy_share:.1%}")
        cells.append(f"{r.reupload.seconds:,.1f} s = {_rate(r.rows, r.reupload.seconds)} rows/s")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def memory_table(results: list[SizeResult]) -> str:
    """Peak RSS of the benchmark process and of the PostgreSQL backend in each step."""
    lines = ["| rows | step | Python RSS before, MiB | Python peak RSS, MiB | "
             "peak growth, MiB | PostgreSQL backend peak RSS, MiB |",
             "|---:|---|---:|---:|---:|---:|"]
    for r in results:
        for name, phase in (("plain COPY", r.copy), ("dry run", r.dry_run), ("apply", r.apply),
                            ("re-upload", r.reupload)):
            growth = None if phase.peak_rss_mib is None or phase.rss_before_mib is None \
                else phase.peak_rss_mib - phase.rss_before_mib
            lines.append(f"| {r.rows:,} | {name} | {_mib_text(phase.rss_before_mib)} | "
                         f"{_mib_text(phase.peak_rss_mib)} | {_mib_text(growth)} | "
                         f"{_mib_text(phase.backend_peak_mib)} |")
    return "\n".join(lines)


def outcome_table(results: list[SizeResult], infos: dict[int, FileInfo]) -> str:
    """What the dry runs found, and whether the counts add up."""
    lines = ["| rows | rejected (planted errors) | with warnings (planted) | near-duplicate "
             "warnings (planted) | create | places after apply | re-upload unchanged | "
             "plain COPY rows | tables after, MiB | counts consistent |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        info = infos[r.rows]
        s = r.dry_summary
        problems = r.consistency(info)
        sizes = ", ".join(f"{k} {v:,.0f}" for k, v in r.relation_mib.items())
        lines.append(
            f"| {r.rows:,} | {s['rejected']:,} ({info.planted_errors:,}) | "
            f"{s['with_warnings']:,} ({info.planted_warnings:,}) | "
            f"{r.near_duplicate_warnings:,} ({info.planted_near_duplicates:,}) | "
            f"{s['create']:,} | {r.places:,} | {r.reupload_summary['unchanged']:,} | "
            f"{r.copy_rows:,} | {sizes} | "
            + ("yes" if not problems else "**no**: " + "; ".join(problems)) + " |")
    return "\n".join(lines)


def breakdown(r: SizeResult) -> list[tuple[str, str, float]]:
    """(step, component, seconds) of the dry run and the apply, largest first."""
    parts: list[tuple[str, str, float]] = []
    stage = r.dry_run.stage_s
    if stage is not None:
        check_only = max(r.check_s - r.parse_s, 0.0)
        parts += [
            ("dry run", "staging: CSV parsing (parse-only pass)", min(r.parse_s, stage)),
            ("dry run", "staging: per-record checks (parse + check pass minus parse-only)",
             min(check_only, max(stage - r.parse_s, 0.0))),
            ("dry run", "staging: COPY into the staging table (sending, the server's work "
                        "while the client waits), issue spool",
             max(stage - r.check_s, 0.0)),
        ]
    for step, phase in (("dry run", r.dry_run), ("apply", r.apply)):
        parts += [(step, label, seconds) for label, seconds in phase.sql.items()]
        other = ("streamed near-duplicate pairs (cursor FETCHes), Python between statements, "
                 "commit" if step == "dry run" else "Python between statements, commit")
        parts.append((step, other, max(phase.other_s, 0.0)))
    return sorted(parts, key=lambda item: -item[2])


def breakdown_table(r: SizeResult, limit: int = 12) -> str:
    """The largest components of dry run + apply."""
    lines = [f"| # | step | component | seconds | share of {r.upload_s:,.1f} s |",
             "|---:|---|---|---:|---:|"]
    for number, (step, label, seconds) in enumerate(breakdown(r)[:limit], start=1):
        lines.append(f"| {number} | {step} | {label} | {seconds:,.2f} | "
                     f"{seconds / r.upload_s:.1%} |")
    return "\n".join(lines)


def profile_section(p: ProfileResult) -> list[str]:
    """The cProfile'd dry run: components and busiest functions."""
    total = sum(seconds for _, seconds in p.components) or 1.0
    lines = [
        f"### cProfile of one dry run of {p.rows:,} rows",
        "",
        f"{p.seconds:,.1f} s under the profiler (which slows Python code, not the server's "
        f"work, so Python's shares are overstated); staging {p.stage_s or 0:,.1f} s, SQL steps "
        f"{p.sql_s:,.1f} s. Self time by component (C functions charged to their callers; "
        "time blocked on the server's socket counted as waiting):",
        "",
        "| component | profiled seconds | share |",
        "|---|---:|---:|",
    ]
    lines += [f"| {label} | {seconds:,.2f} | {seconds / total:.1%} |"
              for label, seconds in p.components]
    lines += ["", "Busiest functions by self time:", "",
              "| function | calls | self s | cumulative s |", "|---|---:|---:|---:|"]
    lines += [f"| `{name}` | {calls:,} | {own:,.2f} | {cumulative:,.2f} |"
              for name, calls, own, cumulative in p.functions]
    return lines


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    from bench.run import machine as describe

    return describe(("sqlalchemy", "psycopg", "psycopg-binary", "shapely", "geoalchemy2"))


def code_fingerprint() -> str:
    """A hash of backend/'s Python files, to tell whether the code changed during a run."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "backend").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def command_line(argv: list[str]) -> str:
    """The command as the user typed it."""
    if os.environ.get("MAKELEVEL"):
        return f'make bench BENCH_ARGS="{shlex.join(argv)}"' if argv else "make bench"
    return " ".join(["python -m bench.uploads", *map(shlex.quote, argv)])


def _verdict(met: bool, miss: str) -> str:
    return "**met**" if met else f"**missed**: {miss}"


def targets_section(at: SizeResult) -> list[str]:
    """The issue's targets at 10^6 rows (or the largest size measured)."""
    scaled = at.rows != TARGET_ROWS
    note = (f" (measured at {at.rows:,} rows only; the targets are for {TARGET_ROWS:,})"
            if scaled else "")
    # A smaller file is scaled to the target's size at its measured rate (the steps are linear
    # in the rows), so a 10^5-row figure is never compared with the 10^6-row budget as is.
    projected = at.upload_s * TARGET_ROWS / at.rows
    over = projected / TARGET_SECONDS
    needed = at.copy.seconds / TARGET_COPY_SHARE
    measured = (f"{at.upload_s:,.1f} s at {at.rows:,} rows ({at.dry_run.seconds:,.1f} + "
                f"{at.apply.seconds:,.1f}), about {projected:,.0f} s at {TARGET_ROWS:,} at that "
                "rate" if scaled else
                f"{at.upload_s:,.1f} s ({at.dry_run.seconds:,.1f} + {at.apply.seconds:,.1f})")
    return [
        f"## Targets{note}",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        f"| dry run + apply of {TARGET_ROWS:,} rows under {TARGET_SECONDS:.0f} s | {measured} | "
        + _verdict(projected < TARGET_SECONDS,
                   f"{projected - TARGET_SECONDS:,.0f} s over, {over:.1f}x the budget") + " |",
        f"| at least 1/5 of the plain COPY rate | {at.copy_share:.1%} of "
        f"{at.rows / at.copy.seconds:,.0f} rows/s | "
        + _verdict(at.copy_share >= TARGET_COPY_SHARE,
                   f"dry run + apply would need to take {needed:,.1f} s, not "
                   f"{at.upload_s:,.1f} s ({at.upload_s / needed:.2f}x too slow)") + " |",
        f"| peak memory reported | dry run: Python peak RSS {_mib_text(at.dry_run.peak_rss_mib)} "
        f"MiB | reported (table below) |",
    ]


def findings(results: list[SizeResult], infos: dict[int, FileInfo]) -> list[str]:
    """What the outcomes say about the workflow itself (not its speed)."""
    notes = []
    for r in results:
        said = "; ".join(f"\u201c{m}\u201d" for m in r.file_warnings)
        planted = infos[r.rows].planted_near_duplicates
        if r.near_duplicate_warnings < planted:
            notes.append(
                f"- At {r.rows:,} rows only {r.near_duplicate_warnings:,} near-duplicate warnings "
                f"were given for {planted:,} planted near-duplicates (the previous place again, "
                "3 m away, same name): the near-duplicate check "
                "(`backend.uploads.service._flag_near_duplicates`) missed most of them; "
                + (f"the dry run said {said}." if said else "the dry run did not say that "
                   "the check was cut short."))
        elif said:
            notes.append(f"- At {r.rows:,} rows the dry run said {said}.")
    return notes


def render(argv: list[str], command: str | None, started: datetime, code: str,
           host: dict[str, str], server: dict[str, str], private: bool,
           results: list[SizeResult], infos: dict[int, FileInfo],
           profile: ProfileResult | None, code_changed: bool = False) -> str:
    """docs/benchmarks-uploads.md."""
    at = next((r for r in results if r.rows == TARGET_ROWS), max(results, key=lambda r: r.rows))
    sample = infos[at.rows]
    if code_changed:
        code += (". **The Python files under backend/ changed while this ran: the figures may "
                 "mix code versions; run it again**")
    where = ("a private cluster in var/bench/pgdata-uploads, durable (fsync on) like `make run`'s"
             if private else "the server of DATABASE_URL")
    lines = [
        "# Benchmarks of bulk uploads",
        "",
        f"Made by `{command or command_line(argv)}` on {started:%Y-%m-%d} (started "
        f"{started:%H:%M} UTC) with `bench/uploads.py`; the file is rewritten by every run "
        "(`--no-write-docs` to keep it).",
        "",
        f"Code: {code}.",
        "",
        "## Machine",
        "",
        f"- {host['nproc']} CPUs ({host.get('cpu', '?')}), {host.get('ram', '?')} RAM, "
        f"{host.get('os', '?')}, Linux {host['kernel']}",
        f"- PostgreSQL {server['postgresql']} with PostGIS {server['postgis']} on {where}: "
        f"shared_buffers {server['shared_buffers']}, work_mem {server['work_mem']}, "
        f"maintenance_work_mem {server['maintenance_work_mem']}, max_wal_size "
        f"{server['max_wal_size']}, fsync {server['fsync']}, synchronous_commit "
        f"{server['synchronous_commit']}, full_page_writes {server['full_page_writes']}, "
        f"wal_level {server['wal_level']}, jit {server['jit']}",
        f"- Python {host['python']}; {host['packages']}",
        "- The benchmark process and PostgreSQL share the machine's cores.",
        "",
        "## What is measured",
        "",
        "Files: the project's CSV format (`backend.uploads.parsers.COLUMNS`, RFC 4180, CRLF), "
        f"generated with a fixed seed into var/bench/uploads/ ({sample.bytes / sample.rows:,.0f} "
        f"bytes a row). Places cluster around {len(TOWNS)} town and district centres of the "
        "three service regions (GB 70%, SG 15%, HK 15%; every point inside "
        "data/regions/service_regions.geojson), 20% branches, 55% ATMs, 25% partner outlets, "
        "with their services, accessibility codes, repayment facts, phones, postcodes and "
        f"opening hours with holiday exceptions ({sample.distinct_hours:,} distinct hours and "
        f"exceptions pairs in the {sample.rows:,}-row file; 3% unknown). External ids are "
        f"unique. {ERROR_SHARE:.1%} of the records carry one planted error (unknown kind, "
        "unreadable latitude, missing name, unknown repayment method, cut-off 25:00, unknown "
        "time zone, unreadable hours, timestamp without offset, another source) and "
        f"{WARNING_SHARE:.0%} one planted warning (unknown service or accessibility code, time "
        "zone or country left to be inferred, latitude and longitude swapped, a point near "
        "(0, 0), a point in another market, the previous place listed again 3 m away under "
        "another id).",
        "",
        "Each size runs in a fresh process on a fresh database migrated to head, in this order, "
        "with a CHECKPOINT before each step and the file already in the page cache:",
        "",
        "- **plain COPY**: `COPY places_plain FROM STDIN (FORMAT csv, HEADER)` of the file, "
        "streamed in 1 MiB chunks through psycopg's `cursor.copy`, into a table of the CSV's "
        f"{len(COLUMNS)} columns as text (no index, no constraint, autovacuum off); one "
        "transaction.",
        "- **dry run**: `submit_upload(session, file, ..., source='bench-upload', mode='sync')` "
        "(the CLI's call: format detected): parse, validate and check every record, COPY the "
        "valid ones into a temporary staging table and the issues into upload_issues, then "
        "duplicate ids, near-duplicates within 10 m, the diff with places (which writes "
        "upload_rows) and (sync) places missing from the file, in SQL; one commit.",
        "- **apply**: `apply_upload` of that batch: every valid record becomes a place (with its "
        "history row); one transaction.",
        "- **re-upload**: a second dry run of the same file against the applied data (every "
        "valid record unchanged): what re-sending an unchanged file costs.",
        "- **parse-only** and **parse + check** passes over the file without a database "
        "(`parse_file`, then also the dry run's per-record `_check`, which also formats the "
        "record's COPY line): the Python part of the dry run's staging step.",
        "",
        "Rates are the file's rows divided by the step's wall time. SQL statements are timed "
        "from the outside (SQLAlchemy `before/after_cursor_execute`); the staging step "
        "(parse, validate, COPY), which runs on the raw psycopg connection, is the time before "
        "the first statement after it (`ANALYZE upload_stage`). Memory: the benchmark process's "
        "peak RSS (VmHWM, reset before each step) and the PostgreSQL backend's (which counts "
        "the shared buffers it touched).",
        "",
        "## Results",
        "",
        results_table(results),
        "",
        "### Memory",
        "",
        memory_table(results),
        "",
        "### Outcomes",
        "",
        outcome_table(results, infos),
        "",
        *targets_section(at),
        "",
        f"## Where the time goes (dry run + apply, {at.rows:,} rows)",
        "",
        breakdown_table(at),
        "",
        f"The staging split comes from the parse-only ({at.parse_s:,.1f} s) and parse + check "
        f"({at.check_s:,.1f} s) passes over the same file in the same process; what is left of "
        f"the staging step's {at.dry_run.stage_s or 0:,.1f} s is the COPY: sending the rows and "
        "waiting while the server parses them (points as hex EWKB, JSONB, arrays) and writes "
        "them into the temporary staging table. \"Streamed near-duplicate pairs\" is the time "
        "the server spends in the FETCHes of the near-duplicate queries (server-side cursors, "
        "which the statement clock does not see), with the Python between statements.",
        "",
    ]
    if profile is not None:
        lines += [*profile_section(profile), ""]
    notes = findings(results, infos)
    if notes:
        lines += ["## Findings about the workflow", "", *notes, ""]
    return "\n".join(lines)


def link_main_docs() -> None:
    """Make docs/benchmarks.md point to this file, in one line under its title."""
    text_now = MAIN_DOCS.read_text() if MAIN_DOCS.exists() else "# Benchmarks\n"
    if "benchmarks-uploads.md" in text_now:
        return
    lines = text_now.splitlines(keepends=True)
    title = 1 if lines and lines[0].startswith("# ") else 0
    lines[title:title] = ["\n", MAIN_DOCS_LINK + "\n"]
    MAIN_DOCS.write_text("".join(lines))


# --- the command -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.uploads", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upload-sizes", default=None,
                        help=f"comma-separated numbers of rows (default {DEFAULT_SIZES}; "
                             f"{QUICK_SIZES} with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a small file only, no profile, docs not written: a smoke run")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                        help="profile one dry run with cProfile (default: yes, not with --quick)")
    parser.add_argument("--timeout", type=float, default=SIZE_TIMEOUT_S,
                        help="seconds allowed per size (default %(default)s)")
    parser.add_argument("--write-docs", action=argparse.BooleanOptionalAction, default=None,
                        help=f"write {DOCS.relative_to(ROOT)} (default: yes, not with --quick)")
    parser.add_argument("--keep-cluster", action="store_true",
                        help="leave the private cluster running at the end")
    parser.add_argument("--keep-database", action="store_true",
                        help=f"leave the database {BENCH_DB} (the last size's) at the end")
    for name in ("--worker", "--database-url", "--csv", "--result"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = args.upload_sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    try:
        args.size_list = sorted({int(s.replace("_", "")) for s in sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--upload-sizes takes comma-separated integers")
    if not args.size_list or min(args.size_list) < 1:
        parser.error("--upload-sizes needs at least one positive size")
    if args.profile is None:
        args.profile = not args.quick
    if args.write_docs is None:
        args.write_docs = not args.quick
    return args


def run_argv(args: argparse.Namespace) -> list[str]:
    """This command's arguments from `python -m bench.run`'s options (its --uploads hook)."""
    argv = [f"--upload-sizes={args.upload_sizes}"] if args.upload_sizes else []
    if not args.write_docs:
        argv.append("--no-write-docs")
    if args.keep_cluster:
        argv.append("--keep-cluster")
    return argv


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None, command: str | None = None) -> int:
    """Run the upload benchmark; 1 when a count did not add up."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    from bench.run import code_version  # the nearby benchmark's: same wording in both files

    started = datetime.now(UTC)
    code, fingerprint = code_version(), code_fingerprint()
    infos = {size: ensure_csv(size, args.seed) for size in args.size_list}
    server_url, private = bench_server()
    server: dict[str, str] = {}
    results: list[SizeResult] = []
    profile = None
    try:
        for size in args.size_list:
            try:
                data = run_worker("measure", server_url, infos[size], args.timeout, server)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                log(f"{size:,} rows: the measuring process failed ({exc}); nothing written")
                return 1
            results.append(SizeResult.from_json(data))
            problems = results[-1].consistency(infos[size])
            log(f"{size:,} rows: dry run + apply {results[-1].upload_s:.1f} s, "
                f"{results[-1].copy_share:.1%} of the plain COPY rate; counts "
                + ("consistent" if not problems else f"INCONSISTENT: {problems}"))
        if args.profile:
            rows = min((s for s in args.size_list if s >= PROFILE_ROWS),
                       default=min(args.size_list))
            try:
                profile = ProfileResult.from_json(
                    run_worker("profile", server_url, infos[rows], args.timeout, server))
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                log(f"the profiling process failed ({exc}); the report goes without it")
    finally:
        try:
            if not args.keep_database:
                drop_database(server_url, BENCH_DB)
        finally:
            if private is not None and not args.keep_cluster:
                stop_cluster(private)
                log("private cluster stopped")
    changed = code_fingerprint() != fingerprint
    if changed:
        log("WARNING: backend/ changed during the run; the figures may mix code versions")
    report = render(argv, command, started, code, machine(), server, private is not None,
                    results, infos, profile, changed)
    print(report)
    if args.write_docs:
        DOCS.write_text(report)
        link_main_docs()
        log(f"wrote {DOCS.relative_to(ROOT)}")
    return 0 if all(not r.consistency(infos[r.rows]) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
