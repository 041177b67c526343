"""Deterministic benchmark places, clustered around real cities, loaded with COPY.

Real networks are not a uniform grid: branches, ATMs and partner outlets crowd into city
centres and high streets, thin out into the suburbs and are absent almost everywhere else.
The generator picks a city (weighted by population), then either a neighbourhood "hotspot" of
that city (a gaussian spread of a few hundred metres) or the wider city (a lognormal distance
of a few km from the centre). Some ATMs stand exactly where a branch stands (a branch's
external ATM), which gives exact distance ties, as real data does.

    python -m bench.generate --count 100000 --database-url URL
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from backend import vocab

DEFAULT_SEED = 20261123
SOURCE = "bench"
METRES_PER_DEGREE = 111_320.0

COLUMNS = (
    "public_id", "kind", "source", "external_id", "name", "brand", "street", "locality",
    "region", "postcode", "country", "location", "timezone", "opening_hours", "services",
    "accessibility", "repayment_methods", "repayment_fee", "repayment_fee_currency",
    "repayment_posting", "repayment_cutoff", "phone", "status", "last_verified_at",
)
COPY_SQL = f"COPY places ({', '.join(COLUMNS)}) FROM STDIN"


@dataclass(frozen=True)
class City:
    """A real city centre and what its places look like."""

    name: str
    region: str
    country: str
    lat: float
    lon: float
    timezone: str
    population_m: float
    currency: str
    phone_prefix: str


CITIES = (
    City("London", "Greater London", "GB", 51.5074, -0.1278, "Europe/London", 9.6, "GBP", "+44"),
    City("Manchester", "Greater Manchester", "GB", 53.4808, -2.2426, "Europe/London", 2.8,
         "GBP", "+44"),
    City("Birmingham", "West Midlands", "GB", 52.4862, -1.8904, "Europe/London", 2.9, "GBP",
         "+44"),
    City("Leeds", "West Yorkshire", "GB", 53.8008, -1.5491, "Europe/London", 1.9, "GBP", "+44"),
    City("Glasgow", "Scotland", "GB", 55.8642, -4.2518, "Europe/London", 1.7, "GBP", "+44"),
    City("Dublin", "Leinster", "IE", 53.3498, -6.2603, "Europe/Dublin", 1.4, "EUR", "+353"),
    City("Paris", "Île-de-France", "FR", 48.8566, 2.3522, "Europe/Paris", 11.1, "EUR", "+33"),
    City("Lyon", "Auvergne-Rhône-Alpes", "FR", 45.7640, 4.8357, "Europe/Paris", 2.3, "EUR",
         "+33"),
    City("Marseille", "Provence-Alpes-Côte d'Azur", "FR", 43.2965, 5.3698, "Europe/Paris", 1.9,
         "EUR", "+33"),
    City("Berlin", "Berlin", "DE", 52.5200, 13.4050, "Europe/Berlin", 3.7, "EUR", "+49"),
    City("Hamburg", "Hamburg", "DE", 53.5511, 9.9937, "Europe/Berlin", 1.9, "EUR", "+49"),
    City("Munich", "Bavaria", "DE", 48.1351, 11.5820, "Europe/Berlin", 1.6, "EUR", "+49"),
    City("Frankfurt", "Hesse", "DE", 50.1109, 8.6821, "Europe/Berlin", 0.8, "EUR", "+49"),
    City("Madrid", "Community of Madrid", "ES", 40.4168, -3.7038, "Europe/Madrid", 6.7, "EUR",
         "+34"),
    City("Barcelona", "Catalonia", "ES", 41.3874, 2.1686, "Europe/Madrid", 5.6, "EUR", "+34"),
    City("Lisbon", "Lisbon", "PT", 38.7223, -9.1393, "Europe/Lisbon", 2.9, "EUR", "+351"),
    City("Rome", "Lazio", "IT", 41.9028, 12.4964, "Europe/Rome", 4.3, "EUR", "+39"),
    City("Milan", "Lombardy", "IT", 45.4642, 9.1900, "Europe/Rome", 3.2, "EUR", "+39"),
    City("Amsterdam", "North Holland", "NL", 52.3676, 4.9041, "Europe/Amsterdam", 2.5, "EUR",
         "+31"),
    City("Brussels", "Brussels-Capital", "BE", 50.8503, 4.3517, "Europe/Brussels", 2.1, "EUR",
         "+32"),
    City("Vienna", "Vienna", "AT", 48.2082, 16.3738, "Europe/Vienna", 2.0, "EUR", "+43"),
    City("Zurich", "Zurich", "CH", 47.3769, 8.5417, "Europe/Zurich", 1.4, "CHF", "+41"),
    City("Warsaw", "Masovia", "PL", 52.2297, 21.0122, "Europe/Warsaw", 3.1, "PLN", "+48"),
    City("Stockholm", "Stockholm", "SE", 59.3293, 18.0686, "Europe/Stockholm", 2.4, "SEK",
         "+46"),
    City("Oslo", "Oslo", "NO", 59.9139, 10.7522, "Europe/Oslo", 1.1, "NOK", "+47"),
    City("Helsinki", "Uusimaa", "FI", 60.1699, 24.9384, "Europe/Helsinki", 1.5, "EUR", "+358"),
    City("Reykjavik", "Capital Region", "IS", 64.1466, -21.9426, "Atlantic/Reykjavik", 0.24,
         "ISK", "+354"),
    City("Athens", "Attica", "GR", 37.9838, 23.7275, "Europe/Athens", 3.2, "EUR", "+30"),
    City("Istanbul", "Istanbul", "TR", 41.0082, 28.9784, "Europe/Istanbul", 15.5, "TRY", "+90"),
    City("New York", "New York", "US", 40.7128, -74.0060, "America/New_York", 19.8, "USD", "+1"),
    City("Los Angeles", "California", "US", 34.0522, -118.2437, "America/Los_Angeles", 12.9,
         "USD", "+1"),
    City("Chicago", "Illinois", "US", 41.8781, -87.6298, "America/Chicago", 9.4, "USD", "+1"),
    City("Toronto", "Ontario", "CA", 43.6532, -79.3832, "America/Toronto", 6.2, "CAD", "+1"),
    City("Mexico City", "Mexico City", "MX", 19.4326, -99.1332, "America/Mexico_City", 21.8,
         "MXN", "+52"),
    City("Bogotá", "Bogotá D.C.", "CO", 4.7110, -74.0721, "America/Bogota", 11.0, "COP", "+57"),
    City("São Paulo", "São Paulo", "BR", -23.5505, -46.6333, "America/Sao_Paulo", 22.4, "BRL",
         "+55"),
    City("Buenos Aires", "Buenos Aires", "AR", -34.6037, -58.3816,
         "America/Argentina/Buenos_Aires", 15.4, "ARS", "+54"),
    City("Lagos", "Lagos", "NG", 6.5244, 3.3792, "Africa/Lagos", 15.4, "NGN", "+234"),
    City("Nairobi", "Nairobi", "KE", -1.2921, 36.8219, "Africa/Nairobi", 4.9, "KES", "+254"),
    City("Johannesburg", "Gauteng", "ZA", -26.2041, 28.0473, "Africa/Johannesburg", 6.0, "ZAR",
         "+27"),
    City("Cairo", "Cairo", "EG", 30.0444, 31.2357, "Africa/Cairo", 21.3, "EGP", "+20"),
    City("Dubai", "Dubai", "AE", 25.2048, 55.2708, "Asia/Dubai", 3.5, "AED", "+971"),
    City("Mumbai", "Maharashtra", "IN", 19.0760, 72.8777, "Asia/Kolkata", 20.7, "INR", "+91"),
    City("Delhi", "Delhi", "IN", 28.7041, 77.1025, "Asia/Kolkata", 32.0, "INR", "+91"),
    City("Singapore", "Singapore", "SG", 1.3521, 103.8198, "Asia/Singapore", 5.9, "SGD", "+65"),
    City("Hong Kong", "Hong Kong", "HK", 22.3193, 114.1694, "Asia/Hong_Kong", 7.5, "HKD",
         "+852"),
    City("Seoul", "Seoul", "KR", 37.5665, 126.9780, "Asia/Seoul", 9.9, "KRW", "+82"),
    City("Tokyo", "Tokyo", "JP", 35.6762, 139.6503, "Asia/Tokyo", 37.2, "JPY", "+81"),
    City("Sydney", "New South Wales", "AU", -33.8688, 151.2093, "Australia/Sydney", 5.3, "AUD",
         "+61"),
    City("Melbourne", "Victoria", "AU", -37.8136, 144.9631, "Australia/Melbourne", 5.1, "AUD",
         "+61"),
    City("Auckland", "Auckland", "NZ", -36.8485, 174.7633, "Pacific/Auckland", 1.7, "NZD",
         "+64"),
    City("Suva", "Central", "FJ", -18.1416, 178.4419, "Pacific/Fiji", 0.2, "FJD", "+679"),
)

# Postcode shapes: A = a letter, 9 = a digit; countries not listed get five digits.
POSTCODE_PATTERNS = {
    "GB": "AA9 9AA", "IE": "A99 A9A9", "CA": "A9A 9A9", "NL": "9999 AA", "PT": "9999-999",
    "AT": "9999", "BE": "9999", "CH": "9999", "NO": "9999", "AU": "9999", "NZ": "9999",
    "ZA": "9999", "JP": "999-9999", "PL": "99-999", "SE": "999 99", "GR": "999 99",
    "IN": "999999", "SG": "999999", "BR": "99999-999", "AR": "A9999AAA", "HK": "", "AE": "",
    "FJ": "",
}
STREETS = (
    "High Street", "Station Road", "Market Street", "Church Lane", "Park Avenue", "Main Street",
    "King Street", "Queen Street", "Victoria Road", "Harbour Road", "River Walk", "Mill Lane",
    "Broadway", "Central Avenue", "Garden Street", "North Road", "South Road", "West Street",
    "East Street", "Bridge Street", "Castle Street", "Cedar Avenue", "Elm Street", "Oak Road",
    "Maple Avenue", "Union Street", "Commerce Way", "Exchange Place", "Liberty Avenue",
    "Dock Street",
)
PARTNER_BRANDS = ("PayPoint", "Post Office", "QuickPay", "Corner Shop Express", "Mini Market",
                  "Pharmacy Plus", "Newsagent & Co")
FEES = ("0.00", "0.50", "0.99", "1.00", "1.50", "2.00")


def _weekly(**days: list[list[str]]) -> str:
    """An opening_hours JSON document: the given days, every other day closed."""
    weekly = {day: days.get(day, []) for day in ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")}
    return _json({"weekly": weekly, "exceptions": []})


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


_OFFICE = [["09:00", "17:00"]]
_ALL_DAY = [["00:00", "24:00"]]
BRANCH_HOURS = (
    _weekly(Mo=_OFFICE, Tu=_OFFICE, We=_OFFICE, Th=_OFFICE, Fr=_OFFICE),
    _weekly(**{d: [["09:00", "17:30"]] for d in ("Mo", "Tu", "We", "Th", "Fr")},
            Sa=[["09:00", "13:00"]]),
    _weekly(**{d: [["09:30", "16:30"]] for d in ("Mo", "Tu", "We", "Fr")},
            Th=[["09:30", "19:00"]]),
    _weekly(**{d: [["08:30", "13:00"], ["14:30", "17:00"]] for d in ("Mo", "Tu", "We", "Th")},
            Fr=[["08:30", "13:30"]]),
)
ATM_HOURS = (
    _weekly(**{d: _ALL_DAY for d in ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")}),
    _weekly(**{d: [["08:00", "21:00"]] for d in ("Mo", "Tu", "We", "Th", "Fr", "Sa")},
            Su=[["10:00", "18:00"]]),
)
OUTLET_HOURS = (
    _weekly(**{d: [["07:00", "22:00"]] for d in ("Mo", "Tu", "We", "Th", "Fr", "Sa")},
            Su=[["08:00", "20:00"]]),
    _weekly(**{d: [["18:00", "02:00"]] for d in ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")}),
    _weekly(**{d: [["08:30", "18:00"]] for d in ("Mo", "Tu", "We", "Th", "Fr")},
            Sa=[["09:00", "12:30"]]),
)
SCHEDULES = BRANCH_HOURS + ATM_HOURS + OUTLET_HOURS

_ATM_EXTRAS = ("CashDeposits", "PINChange", "MiniStatement", "MobilePhoneTopUp", "ChequeDeposits",
               "PINUnblock", "OrderStatement", "FastCash")
_BRANCH_EXTRAS = tuple(s for s in vocab.BRANCH_SERVICES if s != "CounterServices")
_VERIFIED_FROM = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Hotspot:
    """A neighbourhood where places crowd: a centre and a gaussian spread in metres."""

    lat: float
    lon: float
    sigma_m: float


@dataclass(frozen=True)
class CityLayout:
    """A city with its hotspots and their cumulative weights."""

    city: City
    scale_m: float
    hotspots: tuple[Hotspot, ...]
    hotspot_weights: tuple[float, ...]


def _offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point moved by metres east and north (a local flat approximation, fine for km)."""
    new_lat = max(-89.9, min(89.9, lat + north_m / METRES_PER_DEGREE))
    new_lon = lon + east_m / (METRES_PER_DEGREE * math.cos(math.radians(new_lat)))
    return new_lat, (new_lon + 180.0) % 360.0 - 180.0


def city_layouts(seed: int = DEFAULT_SEED) -> tuple[list[CityLayout], list[float]]:
    """Every city's hotspots, and the cities' cumulative weights (population^0.8)."""
    rng = random.Random(f"{seed}-layout")
    layouts = []
    for city in CITIES:
        root = math.sqrt(city.population_m)
        scale_m = 2_500.0 + 2_000.0 * root
        count = max(3, round(8 * root))
        hotspots = [Hotspot(city.lat, city.lon, 600.0)]  # the centre: the busiest
        weights = [3.0 + root]
        for _ in range(count - 1):
            distance = scale_m * rng.lognormvariate(-0.8, 0.6)
            bearing = rng.uniform(0.0, 2.0 * math.pi)
            lat, lon = _offset(city.lat, city.lon, distance * math.sin(bearing),
                               distance * math.cos(bearing))
            hotspots.append(Hotspot(lat, lon, 250.0 * rng.lognormvariate(0.4, 0.4)))
            weights.append(rng.lognormvariate(0.0, 0.8))
        layouts.append(CityLayout(city, scale_m, tuple(hotspots), _cumulative(weights)))
    return layouts, _cumulative([c.population_m ** 0.8 for c in CITIES])


def _cumulative(weights: list[float]) -> tuple[float, ...]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return tuple(out)


def _place_point(rng: random.Random, layout: CityLayout) -> tuple[float, float]:
    """A place's position in a city: 75% around a hotspot, the rest spread over the city."""
    if rng.random() < 0.75:
        spot = rng.choices(layout.hotspots, cum_weights=layout.hotspot_weights)[0]
        return _offset(spot.lat, spot.lon, rng.gauss(0.0, spot.sigma_m),
                       rng.gauss(0.0, spot.sigma_m))
    distance = layout.scale_m * rng.lognormvariate(-0.5, 0.6)
    bearing = rng.uniform(0.0, 2.0 * math.pi)
    return _offset(layout.city.lat, layout.city.lon, distance * math.sin(bearing),
                   distance * math.cos(bearing))


def _postcode(rng: random.Random, country: str) -> str | None:
    pattern = POSTCODE_PATTERNS.get(country, "99999")
    if not pattern:
        return None
    return "".join(
        chr(rng.randrange(65, 91)) if c == "A" else str(rng.randrange(10)) if c == "9" else c
        for c in pattern
    )


def _array(items: list[str] | tuple[str, ...]) -> str:
    return "{" + ",".join(items) + "}"


def _status(rng: random.Random) -> str:
    roll = rng.random()
    return "decommissioned" if roll < 0.015 else "temporarily_closed" if roll < 0.04 else "active"


def generate_rows(count: int, seed: int = DEFAULT_SEED) -> Iterator[tuple[str | None, ...]]:
    """`count` place rows in COPY column order (COLUMNS); the same seed gives the same rows."""
    layouts, city_weights = city_layouts(seed)
    rng = random.Random(f"{seed}-places")
    recent_branches: list[tuple[CityLayout, float, float, str, str | None]] = []
    for number in range(count):
        layout = rng.choices(layouts, cum_weights=city_weights)[0]
        roll = rng.random()
        kind = "branch" if roll < 0.2 else "atm" if roll < 0.75 else "partner_outlet"
        if kind == "atm" and recent_branches and rng.random() < 0.3:
            # A branch's external ATM: exactly the branch's position and address.
            layout, lat, lon, street, postcode = rng.choice(recent_branches)
        else:
            lat, lon = _place_point(rng, layout)
            lat, lon = round(lat, 6), round(lon, 6)
            street = f"{rng.randint(1, 240)} {rng.choice(STREETS)}"
            postcode = _postcode(rng, layout.city.country)
        city = layout.city
        street_name = street.split(" ", 1)[1]
        services: list[str]
        methods: list[str] = []
        fee = currency = posting = cutoff = phone = None
        if kind == "branch":
            name, brand = f"Nearbank {city.name} {street_name}", "Nearbank"
            services = ["CounterServices", *rng.sample(_BRANCH_EXTRAS, rng.randint(2, 8))]
            hours: str | None = rng.choice(BRANCH_HOURS)
            methods = ["cash", "cheque", "debit_card", "bank_transfer"] if rng.random() < 0.8 \
                else ["cash", "debit_card"]
            fee, currency, posting = "0.00", city.currency, "same_day"
            cutoff = rng.choice(("16:00", "15:30"))
            phone = f"{city.phone_prefix} {rng.randrange(10_000_000, 100_000_000)}"
            recent_branches.append((layout, lat, lon, street, postcode))
            if len(recent_branches) > 512:
                recent_branches.pop(0)
        elif kind == "atm":
            name, brand = f"Nearbank ATM {street_name}", "Nearbank"
            services = ["CashWithdrawal", "Balance", *rng.sample(_ATM_EXTRAS, rng.randint(0, 3))]
            hours = rng.choice(ATM_HOURS)
            if "CashDeposits" in services:
                methods = ["cash"]
                fee, currency = "0.00", city.currency
                posting = rng.choice(("instant", "same_day"))
                cutoff = rng.choice(("20:00", None))
        else:
            brand = rng.choice(PARTNER_BRANDS)
            name = f"{brand} {street_name}"
            services = ["PartnerTillRepayment"]
            hours = rng.choice(OUTLET_HOURS)
            methods = ["cash"] if rng.random() < 0.5 else ["cash", "debit_card"]
            fee, currency = rng.choice(FEES), city.currency
            posting = rng.choice(("next_business_day", "two_business_days"))
            cutoff = rng.choice(("18:00", None))
        if rng.random() < 0.03:
            hours = None  # unknown opening hours
        accessibility = rng.sample(vocab.ACCESSIBILITY, rng.randint(0, 4))
        verified = datetime.fromtimestamp(_VERIFIED_FROM + rng.randrange(320 * 86_400), UTC)
        yield (
            str(uuid.UUID(int=rng.getrandbits(128), version=4)), kind, SOURCE,
            f"bench-{number:07d}", name, brand, street, city.name, city.region, postcode,
            city.country, f"SRID=4326;POINT({lon!r} {lat!r})", city.timezone, hours,
            _array(services), _array(accessibility), _array(methods), fee, currency, posting,
            cutoff, phone, _status(rng), verified.isoformat(),
        )


class Progress:
    """Rows written / total and the rate, on stderr, at most once a second."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total, self.label, self.enabled = total, label, enabled
        self.start = self.last = time.monotonic()

    def update(self, done: int, final: bool = False) -> None:
        """Print a progress line when a second has passed (or at the end)."""
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 1.0):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        percent = 100.0 * done / self.total if self.total else 100.0
        print(f"  {self.label}: {done:,}/{self.total:,} rows ({percent:.0f}%), "
              f"{rate:,.0f} rows/s", file=sys.stderr, flush=True)


def copy_places(conn: psycopg.Connection, count: int, seed: int = DEFAULT_SEED,
                progress: bool = True) -> int:
    """COPY `count` generated places into `places` on this connection; the caller commits."""
    meter = Progress(count, "generate", progress)
    written = 0
    with conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
        for row in generate_rows(count, seed):
            copy.write_row(row)
            written += 1
            if written % 5_000 == 0:
                meter.update(written)
    meter.update(written, final=True)
    return written


def query_points(count: int, seed: int = DEFAULT_SEED) -> list[tuple[float, float]]:
    """Where users search from: 80% where the places crowd, 10% city outskirts, 10% anywhere."""
    layouts, city_weights = city_layouts(seed)
    rng = random.Random(f"{seed}-queries")
    points = []
    for _ in range(count):
        layout = rng.choices(layouts, cum_weights=city_weights)[0]
        roll = rng.random()
        if roll < 0.8:
            lat, lon = _place_point(rng, layout)
        elif roll < 0.9:
            distance = rng.uniform(10_000.0, 40_000.0)
            bearing = rng.uniform(0.0, 2.0 * math.pi)
            lat, lon = _offset(layout.city.lat, layout.city.lon, distance * math.sin(bearing),
                               distance * math.cos(bearing))
        else:
            lat = math.degrees(math.asin(rng.uniform(-1.0, 1.0)))
            lon = rng.uniform(-180.0, 180.0)
        points.append((round(lat, 6), round(lon, 6)))
    return points


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://...) as a libpq connection string."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.generate --count N --database-url URL`: replace the bench places."""
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, required=True, help="how many places")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="PostGIS database with the schema applied (default $DATABASE_URL)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--truncate", action="store_true",
                        help="empty the whole places table first (default: only bench rows)")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("give --database-url or set DATABASE_URL")
    with psycopg.connect(libpq_url(args.database_url)) as conn:
        if args.truncate:
            conn.execute("TRUNCATE places RESTART IDENTITY")
        else:
            conn.execute("DELETE FROM places WHERE source = %s", (SOURCE,))
        written = copy_places(conn, args.count, args.seed)
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE places")
    print(f"{written:,} places written (source '{SOURCE}', seed {args.seed})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
