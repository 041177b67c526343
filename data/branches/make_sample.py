"""Generate the invented sample place network (sample.csv and sample.geojson) deterministically.

Run `python data/branches/make_sample.py [--out DIR]`. Standard library only; the fixed seed
makes every run write byte-identical files. Every record is invented: see README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20261225
SOURCE = "nearbank-sample"

COLUMNS = (
    "source", "external_id", "kind", "name", "brand", "street", "locality", "region", "postcode",
    "country", "lat", "lon", "timezone", "opening_hours", "hours_exceptions", "services",
    "accessibility", "repayment_methods", "repayment_fee", "repayment_fee_currency",
    "repayment_posting", "repayment_cutoff", "status", "last_verified_at", "phone",
)
LIST_COLUMNS = ("services", "accessibility", "repayment_methods")

Place = dict[str, Any]  # the COLUMNS plus the generator's own "district" and "street_name"

KIND_PREFIX = {"branch": "BR", "atm": "ATM", "partner_outlet": "PO"}
KIND_SHARE = {"branch": 0.20, "partner_outlet": 0.25}  # ATMs take the rest (~55%)

BRANCH_BASE_SERVICES = ("CounterServices", "AssistedServiceCounter", "ExternalATM")
BRANCH_OPTIONAL_SERVICES = (
    "InternalATM", "AccountVerificationService", "BusinessCounter", "BureauDeChange",
    "BusinessDepositTerminal", "BusinessITSupport", "CardIssuanceFacility", "CollectionLockers",
    "ExternalQuickServicePoint", "InternalQuickServicePoint", "LodgementDevice", "MortgageAdvisor",
    "MeetingRooms", "NightSafe", "OnlineBankingPoint", "OnDemandCurrency", "Other", "Parking",
    "PremierCounter", "QuickDeposit", "StatementPrinter", "SelfServiceAccountOpening",
    "VideoBanking", "WiFi",
)
ATM_BASE_SERVICES = ("CashWithdrawal", "Balance", "PINChange")
ATM_OPTIONAL_SERVICES = (
    "MiniStatement", "FastCash", "PINUnblock", "PINActivation", "MobilePhoneTopUp",
    "BillPayments", "CharityDonation", "OrderStatement", "MobileBankingRegistration",
    "MobilePaymentRegistration", "Other",
)
ATM_DEPOSIT_EXTRAS = (("ChequeDeposits",), ("EnvelopeDeposit",), ())

BRANCH_ACCESS_OPTIONAL = (
    "AutomaticDoors", "InternalRamp", "InductionLoop", "LowerLevelCounter", "HelpingHandUnit",
    "Other",
)
ATM_ACCESS_OPTIONAL = ("AudioCashMachine", "WheelchairAccess", "LevelAccess")
PARTNER_ACCESS_OPTIONAL = ("LevelAccess", "AutomaticDoors", "WheelchairAccess")

BRANCH_HOURS = (
    ("Mo-Fr 09:00-17:00", 10),
    ("Mo-Fr 09:30-16:30", 4),
    ("Mo-Fr 09:00-17:00; Sa 09:00-12:30", 3),
    ("Mo-Fr 09:30-16:30; Sa 10:00-13:00", 2),
    ("Mo-Fr 09:00-12:30,13:30-17:00", 2),
    ("Mo-Th 09:00-17:00; Fr 09:00-18:00", 1),
)
CONVENIENCE_HOURS = (
    ("24/7", 8),
    ("Mo-Su 07:00-23:00", 5),
    ("Mo-Th 07:00-23:00; Fr-Sa 07:00-02:00; Su 08:00-23:00", 4),
    ("Mo-Su 06:00-01:00", 3),
)
ATM_DEPOSIT_CUTOFFS = ("20:00", "20:00", "20:00", "21:00", "19:30")


@dataclass(frozen=True)
class District:
    """A cluster seed: a real district centre, on land, with a modest spread."""

    name: str
    lat: float
    lon: float
    radius_m: float
    weight: int
    streets: tuple[str, ...]
    postal: tuple[str, ...]  # London outward codes or Singapore two-digit sectors
    region: str | None = None
    locality: str | None = None


@dataclass(frozen=True)
class City:
    """A city of the sample network and its local conventions."""

    code: str
    country: str
    timezone: str
    currency: str
    partner_fee: str
    phone_prefix: str
    station_word: str
    mall_hours: str
    station_hours: str
    post_hours: str
    convenience_brands: tuple[str, ...]
    post_brand: str
    holidays: tuple[str, ...]
    half_days: tuple[str, ...]
    districts: tuple[District, ...]


LONDON = City(
    code="LDN", country="GB", timezone="Europe/London", currency="GBP", partner_fee="0.50",
    phone_prefix="+442079460",  # Ofcom's range reserved for drama: 020 7946 0000-0999
    station_word="Station",
    mall_hours="Mo-Sa 09:00-21:00; Su 11:00-17:00",
    station_hours="Mo-Sa 05:30-00:30; Su 07:00-23:30",
    post_hours="Mo-Fr 09:00-17:30; Sa 09:00-12:30",
    convenience_brands=("QuickMart", "Daily Basket"),
    post_brand="CornerPost",
    holidays=(
        '2026-12-25 off "Christmas Day"',
        '2026-12-28 off "Boxing Day (substitute day)"',
        '2027-01-01 off "New Year\'s Day"',
    ),
    half_days=('2026-12-24 09:00-12:00 "Christmas Eve"',),
    districts=(
        District("City of London", 51.5155, -0.0880, 550, 4,
                 ("Cheapside", "Moorgate", "Cornhill", "Gresham Street", "Bishopsgate",
                  "Leadenhall Street", "King William Street", "London Wall"),
                 ("EC2V", "EC2R", "EC3V", "EC2M", "EC4N")),
        District("Soho", 51.5136, -0.1340, 450, 4,
                 ("Wardour Street", "Dean Street", "Old Compton Street", "Shaftesbury Avenue",
                  "Charing Cross Road", "Berwick Street", "Oxford Street", "Regent Street"),
                 ("W1D", "W1F")),
        District("Victoria", 51.4965, -0.1440, 500, 3,
                 ("Victoria Street", "Buckingham Palace Road", "Vauxhall Bridge Road",
                  "Wilton Road", "Belgrave Road"),
                 ("SW1E", "SW1V", "SW1P")),
        District("Canary Wharf", 51.5048, -0.0190, 200, 2,
                 ("Canada Square", "Cabot Square", "Bank Street", "Churchill Place",
                  "Upper Bank Street"),
                 ("E14",)),
        District("King's Cross", 51.5310, -0.1240, 500, 2,
                 ("York Way", "Euston Road", "Pancras Road", "Gray's Inn Road",
                  "Caledonian Road"),
                 ("N1C", "WC1X", "N1")),
        District("Kensington", 51.5010, -0.1925, 500, 2,
                 ("Kensington High Street", "Kensington Church Street", "Earls Court Road",
                  "Abingdon Road"),
                 ("W8",)),
        District("Angel", 51.5322, -0.1058, 450, 2,
                 ("Upper Street", "Pentonville Road", "St John Street", "Essex Road",
                  "City Road"),
                 ("N1", "EC1V")),
        District("Camden Town", 51.5392, -0.1426, 500, 2,
                 ("Camden High Street", "Parkway", "Chalk Farm Road", "Kentish Town Road",
                  "Camden Road"),
                 ("NW1",)),
        District("Brixton", 51.4613, -0.1150, 500, 1,
                 ("Brixton Road", "Acre Lane", "Coldharbour Lane", "Electric Avenue",
                  "Brixton Hill"),
                 ("SW2", "SW9")),
        District("Stratford", 51.5416, -0.0030, 500, 1,
                 ("The Broadway", "Great Eastern Road", "Romford Road", "Westfield Avenue"),
                 ("E15", "E20")),
        District("Hammersmith", 51.4935, -0.2240, 400, 1,
                 ("King Street", "Hammersmith Road", "Fulham Palace Road",
                  "Shepherd's Bush Road"),
                 ("W6",)),
        District("Ealing", 51.5130, -0.3040, 600, 1,
                 ("The Broadway", "Uxbridge Road", "New Broadway", "Bond Street",
                  "High Street"),
                 ("W5",)),
        District("Wimbledon", 51.4214, -0.2064, 500, 1,
                 ("The Broadway", "Wimbledon Hill Road", "Hartfield Road", "Alexandra Road"),
                 ("SW19",)),
        District("Croydon", 51.3740, -0.0990, 650, 1,
                 ("North End", "George Street", "High Street", "Wellesley Road",
                  "London Road"),
                 ("CR0",), locality="Croydon"),
    ),
)

SINGAPORE = City(
    code="SGP", country="SG", timezone="Asia/Singapore", currency="SGD", partner_fee="1.00",
    phone_prefix="+656", station_word="MRT",
    mall_hours="Mo-Su 10:00-22:00",
    station_hours="Mo-Su 05:30-00:30",
    post_hours="Mo-Fr 08:30-18:00; Sa 08:30-14:00",
    convenience_brands=("QuickMart", "DailyMart"),
    post_brand="PostHub",
    holidays=('2026-12-25 off "Christmas Day"', '2027-01-01 off "New Year\'s Day"'),
    half_days=(),
    districts=(
        District("Orchard", 1.3035, 103.8320, 700, 4,
                 ("Orchard Road", "Scotts Road", "Paterson Road", "Killiney Road",
                  "Cuppage Road", "Orchard Turn"),
                 ("22", "23", "24"), "Central Region"),
        District("Chinatown", 1.2830, 103.8440, 400, 3,
                 ("South Bridge Road", "New Bridge Road", "Pagoda Street", "Temple Street",
                  "Eu Tong Sen Street", "Cross Street"),
                 ("05", "06"), "Central Region"),
        District("Bugis", 1.3000, 103.8555, 400, 2,
                 ("Victoria Street", "North Bridge Road", "Rochor Road", "Middle Road",
                  "Queen Street"),
                 ("18", "19"), "Central Region"),
        District("Tanjong Pagar", 1.2765, 103.8455, 350, 2,
                 ("Tanjong Pagar Road", "Anson Road", "Maxwell Road", "Wallich Street",
                  "Peck Seah Street"),
                 ("07", "08"), "Central Region"),
        District("Novena", 1.3204, 103.8437, 400, 1,
                 ("Thomson Road", "Irrawaddy Road", "Balestier Road", "Moulmein Road"),
                 ("30", "32"), "Central Region"),
        District("Toa Payoh", 1.3327, 103.8474, 500, 1,
                 ("Lorong 1 Toa Payoh", "Toa Payoh Central", "Lorong 4 Toa Payoh",
                  "Lorong 8 Toa Payoh"),
                 ("31",), "Central Region"),
        District("Bishan", 1.3510, 103.8485, 400, 1,
                 ("Bishan Place", "Bishan Street 22", "Bishan Street 13"),
                 ("57",), "Central Region"),
        District("Paya Lebar", 1.3180, 103.8925, 450, 1,
                 ("Paya Lebar Road", "Sims Avenue", "Geylang Road", "Eunos Road 8"),
                 ("40", "41"), "Central Region"),
        District("Ang Mo Kio", 1.3700, 103.8495, 600, 1,
                 ("Ang Mo Kio Avenue 3", "Ang Mo Kio Avenue 8", "Ang Mo Kio Avenue 6",
                  "Ang Mo Kio Street 21"),
                 ("56",), "North-East Region"),
        District("Serangoon", 1.3502, 103.8730, 450, 1,
                 ("Serangoon Central", "Upper Serangoon Road", "Serangoon Avenue 2",
                  "Lorong Chuan"),
                 ("55",), "North-East Region"),
        District("Tampines", 1.3530, 103.9450, 600, 1,
                 ("Tampines Central 1", "Tampines Avenue 4", "Tampines Street 11",
                  "Tampines Avenue 5"),
                 ("52",), "East Region"),
        District("Bedok", 1.3245, 103.9300, 500, 1,
                 ("Bedok North Road", "New Upper Changi Road", "Bedok North Street 1",
                  "Bedok Central"),
                 ("46",), "East Region"),
        District("Jurong East", 1.3331, 103.7425, 500, 1,
                 ("Jurong Gateway Road", "Jurong East Street 13", "Jurong East Avenue 1",
                  "Boon Lay Way"),
                 ("60",), "West Region"),
        District("Clementi", 1.3150, 103.7650, 450, 1,
                 ("Clementi Avenue 3", "Clementi Avenue 2", "Clementi Avenue 1",
                  "Commonwealth Avenue West"),
                 ("12",), "West Region"),
        District("Woodlands", 1.4365, 103.7865, 500, 1,
                 ("Woodlands Avenue 2", "Woodlands Square", "Woodlands Avenue 3",
                  "Woodlands Drive 16"),
                 ("73",), "North Region"),
    ),
)

HONG_KONG = City(
    code="HKG", country="HK", timezone="Asia/Hong_Kong", currency="HKD", partner_fee="5.00",
    phone_prefix="+8522", station_word="MTR",
    mall_hours="Mo-Su 10:00-22:00",
    station_hours="Mo-Su 06:00-01:00",
    post_hours="Mo-Fr 09:30-17:00; Sa 09:30-13:00",
    convenience_brands=("QuickMart", "Harbour Mart"),
    post_brand="CityPost",
    holidays=(
        '2026-12-25 off "Christmas Day"',
        '2026-12-26 off "The first weekday after Christmas Day"',
        '2027-01-01 off "The first day of January"',
    ),
    half_days=('2026-12-24 09:00-12:00 "Christmas Eve"',
               '2026-12-31 09:00-12:00 "New Year\'s Eve"'),
    districts=(
        District("Central", 22.2810, 114.1575, 250, 3,
                 ("Queen's Road Central", "Des Voeux Road Central", "Pedder Street",
                  "Ice House Street", "Wellington Street"),
                 (), "Hong Kong Island"),
        District("Causeway Bay", 22.2800, 114.1840, 300, 3,
                 ("Hennessy Road", "Yee Wo Street", "Percival Street", "Lee Garden Road",
                  "Yun Ping Road"),
                 (), "Hong Kong Island"),
        District("Tsim Sha Tsui", 22.2990, 114.1730, 350, 3,
                 ("Nathan Road", "Peking Road", "Carnarvon Road", "Hankow Road",
                  "Granville Road", "Mody Road"),
                 (), "Kowloon"),
        District("Mong Kok", 22.3185, 114.1695, 450, 3,
                 ("Nathan Road", "Argyle Street", "Sai Yeung Choi Street South",
                  "Portland Street", "Shantung Street"),
                 (), "Kowloon"),
        District("Wan Chai", 22.2765, 114.1730, 250, 2,
                 ("Hennessy Road", "Lockhart Road", "Johnston Road", "Queen's Road East"),
                 (), "Hong Kong Island"),
        District("North Point", 22.2893, 114.1995, 200, 1,
                 ("King's Road", "Java Road", "Shu Kuk Street"),
                 (), "Hong Kong Island"),
        District("Sham Shui Po", 22.3305, 114.1625, 350, 1,
                 ("Cheung Sha Wan Road", "Lai Chi Kok Road", "Yen Chow Street", "Apliu Street",
                  "Fuk Wa Street"),
                 (), "Kowloon"),
        District("Kowloon Tong", 22.3370, 114.1760, 300, 1,
                 ("Cornwall Street", "Suffolk Road", "Waterloo Road"),
                 (), "Kowloon"),
        District("Kwun Tong", 22.3135, 114.2260, 300, 1,
                 ("Hoi Yuen Road", "How Ming Street", "Hong Ning Road", "Kwun Tong Road",
                  "Hip Wo Street"),
                 (), "Kowloon"),
        District("Sha Tin", 22.3815, 114.1870, 300, 1,
                 ("Sha Tin Centre Street", "Sha Tin Rural Committee Road", "Yuen Wo Road",
                  "Pai Tau Street"),
                 (), "New Territories"),
        District("Tsuen Wan", 22.3725, 114.1170, 300, 1,
                 ("Sha Tsui Road", "Chung On Street", "Yeung Uk Road", "Tai Ho Road"),
                 (), "New Territories"),
        District("Tuen Mun", 22.3925, 113.9770, 350, 1,
                 ("Tuen Mun Heung Sze Wui Road", "Tuen Hing Road", "Tuen Shun Street"),
                 (), "New Territories"),
        District("Yuen Long", 22.4450, 114.0270, 400, 1,
                 ("Castle Peak Road - Yuen Long", "Tai Tong Road", "Kau Yuk Road",
                  "Yuen Long On Ning Road"),
                 (), "New Territories"),
    ),
)

CITY_SIZES = ((LONDON, 136), (SINGAPORE, 132), (HONG_KONG, 132))

POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward part of UK postcodes
MALL_SUFFIXES = ("Galleria", "Arcade", "Exchange", "Court", "Walk")


def weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    """Pick one option with probability proportional to its weight."""
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights=weights)[0]


def scatter(rng: random.Random, district: District) -> tuple[float, float]:
    """A point near the district centre: Gaussian, truncated at the district radius."""
    while True:
        north = rng.gauss(0.0, district.radius_m / 2)
        east = rng.gauss(0.0, district.radius_m / 2)
        if math.hypot(north, east) <= district.radius_m:
            break
    lat = district.lat + north / 111_320.0
    lon = district.lon + east / (111_320.0 * math.cos(math.radians(district.lat)))
    return round(lat, 6), round(lon, 6)


def postcode(rng: random.Random, city: City, district: District) -> str | None:
    """A postcode in the city's format (none in Hong Kong)."""
    if city.country == "GB":
        inward = f"{rng.randint(1, 9)}{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
        return f"{rng.choice(district.postal)} {inward}"
    if city.country == "SG":
        return f"{rng.choice(district.postal)}{rng.randint(0, 9999):04d}"
    return None


def street_address(rng: random.Random, city: City, street: str, in_mall: bool) -> str:
    """A plausible street address line for the city."""
    if city.country == "GB":
        return f"{rng.randint(1, 240)} {street}"
    if city.country == "SG":
        unit = f" #{rng.choice(('B1', '01', '02', '03'))}-{rng.randint(1, 80):02d}"
        return f"{rng.randint(1, 680)} {street}{unit if in_mall else ''}"
    shop = f"Shop {rng.choice(('G', '1', '2', 'B'))}{rng.randint(1, 60):02d}, "
    return f"{shop if in_mall else ''}{rng.randint(1, 280)} {street}"


def offset_for(city: City, day: date) -> str:
    """The UTC offset of the city's local time on that day (UK summer time for London)."""
    if city.country != "GB":
        return "+08:00"

    def last_sunday(month: int) -> date:
        last = date(day.year, month + 1, 1) - timedelta(days=1)
        return last - timedelta(days=(last.weekday() + 1) % 7)

    return "+01:00" if last_sunday(3) < day < last_sunday(10) else "+00:00"


def verified_at(rng: random.Random, city: City, start: date, days: int) -> str:
    """A local working-hours timestamp within `days` after `start`, ISO 8601 with offset."""
    day = start + timedelta(days=rng.randrange(days))
    moment = datetime(day.year, day.month, day.day, rng.randint(8, 18), rng.randrange(60))
    return f"{moment.isoformat()}{offset_for(city, day)}"


def pick_optional(rng: random.Random, pool: tuple[str, ...], index: int, share: float) -> list[str]:
    """A random subset of `pool` that always contains pool[index % len(pool)] (for coverage)."""
    forced = pool[index % len(pool)]
    return [code for code in pool if code == forced or rng.random() < share]


class NameBook:
    """Hands out place names, unique within the sample."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, *candidates: str) -> str:
        """The first unused candidate, or the last one numbered until unused."""
        for name in candidates:
            if name not in self.used:
                self.used.add(name)
                return name
        number = 2
        while f"{candidates[-1]} {number}" in self.used:
            number += 1
        name = f"{candidates[-1]} {number}"
        self.used.add(name)
        return name


def city_places(rng: random.Random, city: City, size: int, names: NameBook) -> list[Place]:
    """All places of one city, ordered by kind then id."""
    n_branch = round(size * KIND_SHARE["branch"])
    n_partner = round(size * KIND_SHARE["partner_outlet"])
    kinds = ["branch"] * n_branch + ["atm"] * (size - n_branch - n_partner)
    kinds += ["partner_outlet"] * n_partner
    weights = [d.weight for d in city.districts]
    phones = iter(rng.sample(range(1000 if city.country == "GB" else 10_000_000), size))
    counters = {kind: 0 for kind in KIND_PREFIX}
    places = []
    for kind in kinds:
        counters[kind] += 1
        index = counters[kind]
        district = rng.choices(city.districts, weights=weights)[0]
        lat, lon = scatter(rng, district)
        street = rng.choice(district.streets)
        place = {
            "source": SOURCE,
            "external_id": f"{KIND_PREFIX[kind]}-{city.code}-{index:04d}",
            "kind": kind,
            "street_name": street,
            "district": district,
            "locality": district.locality or {"GB": "London", "SG": "Singapore"}.get(
                city.country, district.name),
            "region": district.region or "Greater London",
            "postcode": postcode(rng, city, district),
            "country": city.country,
            "lat": lat,
            "lon": lon,
            "timezone": city.timezone,
            "hours_exceptions": [],
            "status": "active",
            "last_verified_at": verified_at(rng, city, date(2026, 6, 1), 170),
            "phone": None,
        }
        phone_digits = 3 if city.country == "GB" else 7
        phone = f"{city.phone_prefix}{next(phones):0{phone_digits}d}"
        if kind == "branch":
            fill_branch(rng, city, place, index, names, phone)
        elif kind == "atm":
            fill_atm(rng, city, place, index, names)
        else:
            fill_partner(rng, city, place, index, names, phone)
        places.append(place)
    add_status_changes(rng, city, places)
    return places


def fill_branch(rng: random.Random, city: City, place: Place, index: int, names: NameBook,
                phone: str) -> None:
    """Branch facts: counter services, office hours, holidays, free same-day repayment."""
    district, street = place["district"], place["street_name"]
    place["name"] = names.take(f"Nearbank {district.name}", f"Nearbank {street}",
                               f"Nearbank {district.name} {street}")
    place["brand"] = "Nearbank"
    place["street"] = street_address(rng, city, street, in_mall=False)
    hours = weighted(rng, BRANCH_HOURS)
    place["opening_hours"] = hours
    services = list(BRANCH_BASE_SERVICES)
    services += pick_optional(rng, BRANCH_OPTIONAL_SERVICES, index, 0.25)
    if "Sa " in hours:
        services.append("SaturdayCounterService")
    place["services"] = services
    access = [rng.choice(("LevelAccess", "ExternalRamp")), "WheelchairAccess"]
    access += pick_optional(rng, BRANCH_ACCESS_OPTIONAL, index, 0.4)
    place["accessibility"] = access
    exceptions = list(city.holidays)
    if city.half_days and rng.random() < 0.6:
        exceptions += city.half_days
    place["hours_exceptions"] = sorted(exceptions)
    place.update(
        repayment_methods=["cash", "cheque", "debit_card", "bank_transfer"],
        repayment_fee="0.00", repayment_fee_currency=city.currency,
        repayment_posting="same_day", repayment_cutoff="16:00", phone=phone,
    )


def fill_atm(rng: random.Random, city: City, place: Place, index: int, names: NameBook) -> None:
    """ATM facts: street ATMs open 24/7, station and mall ATMs follow their host's hours."""
    district, street = place["district"], place["street_name"]
    site = rng.choices(("street", "station", "mall"), weights=(60, 15, 25))[0]
    mall = f"{district.name} {MALL_SUFFIXES[index % len(MALL_SUFFIXES)]}"
    station = f"{district.name} {city.station_word}"
    host = {"street": street, "station": station, "mall": mall}[site]
    place["name"] = names.take(f"Nearbank ATM — {host}", f"Nearbank ATM — {district.name} {street}")
    place["brand"] = "Nearbank"
    place["street"] = street_address(rng, city, street, in_mall=site == "mall")
    place["opening_hours"] = {
        "street": "24/7", "station": city.station_hours, "mall": city.mall_hours,
    }[site]
    services = list(ATM_BASE_SERVICES) + pick_optional(rng, ATM_OPTIONAL_SERVICES, index, 0.2)
    access = pick_optional(rng, ATM_ACCESS_OPTIONAL, index, 0.4)
    deposit = index % 2 == 0
    if deposit:
        services += ["CashDeposits", *ATM_DEPOSIT_EXTRAS[index // 2 % len(ATM_DEPOSIT_EXTRAS)]]
    place["services"] = services
    place["accessibility"] = access
    place.update(
        repayment_methods=["cash"] if deposit else [],
        repayment_fee="0.00" if deposit else None,
        repayment_fee_currency=city.currency if deposit else None,
        repayment_posting=rng.choice(("instant", "instant", "same_day")) if deposit else None,
        repayment_cutoff=rng.choice(ATM_DEPOSIT_CUTOFFS) if deposit else None,
    )


def fill_partner(rng: random.Random, city: City, place: Place, index: int, names: NameBook,
                 phone: str) -> None:
    """Partner outlet facts: long hours, repayment at the till for a small fee."""
    district, street = place["district"], place["street_name"]
    post = index % 3 == 0
    brand = city.post_brand if post else rng.choice(city.convenience_brands)
    place["name"] = names.take(f"{brand} {district.name}", f"{brand} {street}",
                               f"{brand} {district.name} {street}")
    place["brand"] = brand
    place["street"] = street_address(rng, city, street, in_mall=rng.random() < 0.2)
    place["opening_hours"] = city.post_hours if post else weighted(rng, CONVENIENCE_HOURS)
    if post:
        services = ["PartnerTillRepayment", "BillPayments"]
        services += [code for code in ("BureauDeChange", "CollectionLockers") if rng.random() < 0.5]
        if city.country == "GB":
            place["hours_exceptions"] = list(city.holidays)
    else:
        services = ["PartnerTillRepayment"]
        services += [code for code in ("MobilePhoneTopUp", "BillPayments") if rng.random() < 0.4]
    place["services"] = services
    place["accessibility"] = [c for c in PARTNER_ACCESS_OPTIONAL if rng.random() < 0.4]
    place.update(
        repayment_methods=["cash", "debit_card"] if rng.random() < 0.35 else ["cash"],
        repayment_fee=city.partner_fee, repayment_fee_currency=city.currency,
        repayment_posting="two_business_days" if post else "next_business_day",
        repayment_cutoff="17:00" if post else "18:00",
        phone=phone if rng.random() < 0.8 else None,
    )


def add_status_changes(rng: random.Random, city: City, places: list[Place]) -> None:
    """Unknown hours, planned and current closures, and one decommissioned place per city."""
    branches = [p for p in places if p["kind"] == "branch"]
    atms = [p for p in places if p["kind"] == "atm"]
    partners = [p for p in places if p["kind"] == "partner_outlet"]
    for place in rng.sample(partners, 2) + rng.sample(atms, 1):
        place["opening_hours"] = None
    closed_branch, refurbished, gone = rng.sample(branches, 3)
    closed_branch["status"] = "temporarily_closed"
    closed_branch["hours_exceptions"] = ['2026-11-02..2027-01-29 off "Refurbishment"']
    refurbished["hours_exceptions"] = refurbished["hours_exceptions"] + [
        '2027-01-04..2027-01-08 off "Refurbishment"']
    closed_atm, gone_atm = rng.sample(atms, 2)
    closed_atm["status"] = "temporarily_closed"
    if city.country == "SG":
        return
    gone = gone if city.country == "HK" else gone_atm
    gone["status"] = "decommissioned"
    gone["hours_exceptions"] = []
    gone["last_verified_at"] = verified_at(rng, city, date(2026, 3, 2), 20)


def build_places() -> list[Place]:
    """The whole sample network: all cities, deterministic."""
    rng = random.Random(SEED)
    names = NameBook()
    places = []
    for city, size in CITY_SIZES:
        places += city_places(rng, city, size, names)
    return places


def csv_value(column: str, value: object) -> str:
    """One CSV cell in the project's notation."""
    if value is None:
        return ""
    if column in LIST_COLUMNS:
        return ";".join(value)
    if column in ("lat", "lon"):
        return f"{value:.6f}"
    if column == "hours_exceptions":
        return "; ".join(value)
    return str(value)


def geojson_value(column: str, value: object) -> object:
    """One GeoJSON property in the project's notation."""
    if column == "hours_exceptions":
        return "; ".join(value) or None
    return value


def write_csv(places: list[Place], path: Path) -> None:
    """Write the places as RFC 4180 CSV (UTF-8, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for place in places:
        writer.writerow([csv_value(column, place[column]) for column in COLUMNS])
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")


def write_geojson(places: list[Place], path: Path) -> None:
    """Write the places as an RFC 7946 FeatureCollection, one feature per line."""
    features = []
    for place in places:
        properties = {
            column: geojson_value(column, place[column])
            for column in COLUMNS if column not in ("lat", "lon")
        }
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [place["lon"], place["lat"]]},
            "properties": properties,
        }
        features.append(json.dumps(feature, ensure_ascii=False))
    text = '{"type": "FeatureCollection", "features": [\n' + ",\n".join(features) + "\n]}\n"
    path.write_text(text, encoding="utf-8", newline="")


def write_sample(out: Path) -> list[Place]:
    """Write sample.csv and sample.geojson into `out` and return the places written."""
    places = build_places()
    write_csv(places, out / "sample.csv")
    write_geojson(places, out / "sample.geojson")
    return places


def main() -> None:
    """Write sample.csv and sample.geojson and print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="directory to write into (default: next to this script)")
    out = parser.parse_args().out
    places = write_sample(out)
    print(f"wrote {len(places)} places to {out / 'sample.csv'} and {out / 'sample.geojson'}")
    for city, _ in CITY_SIZES:
        counts = {kind: 0 for kind in KIND_PREFIX}
        for place in places:
            if place["timezone"] == city.timezone:
                counts[place["kind"]] += 1
        summary = ", ".join(f"{count} {kind}" for kind, count in counts.items())
        print(f"  {city.timezone}: {sum(counts.values())} places ({summary})")


if __name__ == "__main__":
    main()
