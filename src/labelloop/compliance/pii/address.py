"""Postal addresses by pattern: US-style street addresses and Chinese addresses.

* English: a house number, one to four capitalised words ending in a street suffix
  (``Street``, ``Ave``, ``Plaza`` …), an optional unit (``Apt. 5``, ``Suite 200``) and an
  optional ``City, ST 12345`` line; or a lone ``City, ST 12345`` line.
* Chinese: starts at a province-level name (``北京``, ``河南省`` …) or ``XX市XX区``, runs to a
  road/street word (路, 街, 道, 巷, 弄, 胡同, 村) and takes an optional number, building/unit
  part and six-digit postcode.

These are heuristics (score 0.7); the benchmark reports their recall honestly.

Example:
    >>> t = "Send it to 743 Rachel Burgs Apt. 5, Debratown, FM 50466 today."
    >>> [t[f.start:f.end] for f in AddressRecognizer().find(t)]
    ['743 Rachel Burgs Apt. 5, Debratown, FM 50466']
    >>> t = "寄到河南省璐县清城马鞍山路x座 917812。"
    >>> [t[f.start:f.end] for f in AddressRecognizer().find(t)]
    ['河南省璐县清城马鞍山路x座 917812']
"""

from __future__ import annotations

from labelloop.compliance.pii._base import PRIORITY_GENERIC, Finding, RegexRecognizer

__all__ = ["AddressRecognizer"]

_SUFFIXES = [
    "Alley",
    "Aly",
    "Avenue",
    "Ave",
    "Bayou",
    "Beach",
    "Bend",
    "Bluff",
    "Bluffs",
    "Bottom",
    "Boulevard",
    "Blvd",
    "Branch",
    "Bridge",
    "Brook",
    "Brooks",
    "Burg",
    "Burgs",
    "Bypass",
    "Camp",
    "Canyon",
    "Cape",
    "Causeway",
    "Center",
    "Centers",
    "Circle",
    "Cir",
    "Circles",
    "Cliff",
    "Cliffs",
    "Club",
    "Common",
    "Commons",
    "Corner",
    "Corners",
    "Course",
    "Court",
    "Ct",
    "Courts",
    "Cove",
    "Coves",
    "Creek",
    "Crescent",
    "Crest",
    "Crossing",
    "Crossroad",
    "Curve",
    "Dale",
    "Dam",
    "Divide",
    "Drive",
    "Dr",
    "Drives",
    "Estate",
    "Estates",
    "Expressway",
    "Extension",
    "Extensions",
    "Fall",
    "Falls",
    "Ferry",
    "Field",
    "Fields",
    "Flat",
    "Flats",
    "Ford",
    "Fords",
    "Forest",
    "Forge",
    "Forges",
    "Fork",
    "Forks",
    "Fort",
    "Freeway",
    "Garden",
    "Gardens",
    "Gateway",
    "Glen",
    "Glens",
    "Green",
    "Greens",
    "Grove",
    "Groves",
    "Harbor",
    "Harbors",
    "Haven",
    "Heights",
    "Highway",
    "Hwy",
    "Hill",
    "Hills",
    "Hollow",
    "Inlet",
    "Island",
    "Islands",
    "Isle",
    "Junction",
    "Junctions",
    "Key",
    "Keys",
    "Knoll",
    "Knolls",
    "Lake",
    "Lakes",
    "Land",
    "Landing",
    "Lane",
    "Ln",
    "Light",
    "Lights",
    "Loaf",
    "Lock",
    "Locks",
    "Lodge",
    "Loop",
    "Mall",
    "Manor",
    "Manors",
    "Meadow",
    "Meadows",
    "Mews",
    "Mill",
    "Mills",
    "Mission",
    "Motorway",
    "Mount",
    "Mountain",
    "Mountains",
    "Neck",
    "Orchard",
    "Oval",
    "Overpass",
    "Park",
    "Parks",
    "Parkway",
    "Pkwy",
    "Parkways",
    "Pass",
    "Passage",
    "Path",
    "Pike",
    "Pine",
    "Pines",
    "Place",
    "Pl",
    "Plain",
    "Plains",
    "Plaza",
    "Point",
    "Points",
    "Port",
    "Ports",
    "Prairie",
    "Radial",
    "Ramp",
    "Ranch",
    "Rapid",
    "Rapids",
    "Rest",
    "Ridge",
    "Ridges",
    "River",
    "Road",
    "Rd",
    "Roads",
    "Route",
    "Row",
    "Rue",
    "Run",
    "Shoal",
    "Shoals",
    "Shore",
    "Shores",
    "Skyway",
    "Spring",
    "Springs",
    "Spur",
    "Spurs",
    "Square",
    "Sq",
    "Squares",
    "Station",
    "Stravenue",
    "Stream",
    "Street",
    "St",
    "Streets",
    "Summit",
    "Terrace",
    "Ter",
    "Throughway",
    "Trace",
    "Track",
    "Trafficway",
    "Trail",
    "Trl",
    "Trailer",
    "Tunnel",
    "Turnpike",
    "Underpass",
    "Union",
    "Unions",
    "Valley",
    "Valleys",
    "Via",
    "Viaduct",
    "View",
    "Views",
    "Village",
    "Villages",
    "Ville",
    "Vista",
    "Walk",
    "Walks",
    "Wall",
    "Way",
    "Ways",
    "Well",
    "Wells",
]
_CITY_LINE = r"[A-Z][a-z]+(?: [A-Z][a-z]+){0,3},? [A-Z]{2} \d{5}(?:-\d{4})?"
_EN = (
    r"(?<![0-9A-Za-z])(?P<v>\d{1,6}(?: [A-Z][a-z]+){0,3} (?:"
    + "|".join(sorted(_SUFFIXES, key=len, reverse=True))
    + r")\.?(?: (?:Apt\.|Suite|Unit|#) ?\d+[A-Z]?)?(?:(?:,? ?\n?|, )"
    + _CITY_LINE
    + r")?|(?<=\n)"
    + _CITY_LINE
    + r"|(?:PSC|Unit) \d{3,5},? Box \d{3,5}(?:,? ?\n?(?:APO|FPO|DPO) A[AEP] \d{5})?"
    r"|(?:USNS|USNV|USS|USCGC) [A-Z][a-z]+(?:,? ?\n?FPO A[AEP] \d{5})?"
    r")(?![0-9A-Za-z])"
)
_PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|"
    "贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
_HAN = r"[\u4e00-\u9fff]"
_ZH = (
    r"(?P<v>(?:(?:" + _PROVINCES + r")(?:省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区)?"
    r"|"
    + _HAN
    + r"{2}市"
    + _HAN
    + r"{1,4}区)"
    + r"(?:"
    + _HAN
    + r"{0,16}?(?:路|街|大道|道|巷|弄|胡同|村)){1,3}(?:[0-9]{1,5}号)?"
    r"(?:[A-Za-z0-9]{1,5}(?:座|栋|幢|号楼|单元|层|室|号))*(?:[ ]?\d{6}(?!\d))?)"
)


class AddressRecognizer:
    """Finds ``ADDRESS`` values in English (US style) and Chinese text.

    Example:
        >>> AddressRecognizer().find("I have 3 Apples")
        []
    """

    name = "address"

    def __init__(self) -> None:
        self._en = RegexRecognizer("address_en", "ADDRESS", _EN, score=0.7, priority=PRIORITY_GENERIC)
        self._zh = RegexRecognizer("address_zh", "ADDRESS", _ZH, score=0.7, priority=PRIORITY_GENERIC)

    def find(self, text: str) -> list[Finding]:
        """Return address findings in ``text``."""
        return self._en.find(text) + self._zh.find(text)
