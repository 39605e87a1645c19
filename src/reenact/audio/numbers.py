"""Numbers written in a transcript as the English words that may say them, so that the aligner
(`reenact.audio.transcript`) can fit "1984" to "nineteen eighty-four" rather than to "one nine
eight four".

    "1984" -> [["nineteen", "eighty", "four"], ["one", "thousand", "nine", "hundred", "eighty",
               "four"], ["one", "nine", "eight", "four"], ...]
    "3.5" -> [["three", "point", "five"]]; "21st" -> [["twenty", "first"]];
    "$5" -> [["five", "dollars"]]; "10%" -> [["ten", "percent"]]; "1990s" -> [["nineteen",
    "nineties"], ...]

Why: Whisper writes the numbers it hears as digits ("I was in 2012", "I'm 14 next year"), and so
do scripts. Read digit by digit, a sentence with four numbers in it did not fit its own speech
(espeak-ng's "In 1984 my brother paid 250 dollars for 3 big maps, and by 2012 he had 17 more."),
which refused a right transcript and sent recognised words back to the heard phones.

Every reading is offered; the aligner takes whichever the speech fits (a year, a count, digits
one by one, with or without "and").
"""

from __future__ import annotations

import re

# a number as a transcript writes it: an optional currency sign, digits (thousands may be grouped
# by commas), an optional decimal part, then an optional ordinal ending or plural s (not where a
# word goes on: "5stars" is 5 and "stars") or percent sign
NUMBER_PATTERN = r"[$£€]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:(?:st|nd|rd|th|s)(?![^\W\d_])|%)?"
_NUMBER = re.compile(NUMBER_PATTERN + r"\Z")
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
             "nine": "ninth", "twelve": "twelfth"}
_CURRENCIES = {"$": "dollar", "£": "pound", "€": "euro"}
MAX_SPOKEN = 10**12  # numbers from here on are read digit by digit only


def is_number(token: str) -> bool:
    """Whether `token` is a number as `NUMBER_PATTERN` writes it."""
    return _NUMBER.match(token) is not None


def _below_hundred(value: int) -> list[str]:
    if value < 10:
        return [_DIGITS[value]]
    if value < 20:
        return [_TEENS[value - 10]]
    tens, units = divmod(value, 10)
    return [_TENS[tens]] + ([_DIGITS[units]] if units else [])


def _below_thousand(value: int, joined: bool) -> list[str]:
    hundreds, rest = divmod(value, 100)
    words = [_DIGITS[hundreds], "hundred"] if hundreds else []
    if rest:
        words += (["and"] if joined and hundreds else []) + _below_hundred(rest)
    return words


def cardinal(value: int, joined: bool = False) -> list[str]:
    """The words of a whole number below `MAX_SPOKEN` ("two hundred fifty"; with `joined`, British
    "two hundred and fifty")."""
    if value == 0:
        return ["zero"]
    words: list[str] = []
    for scale, name in _SCALES:
        count, value = divmod(value, scale)
        if count:
            words += _below_thousand(count, joined) + [name]
    if value:
        if joined and words and value < 100:
            words.append("and")
        words += _below_thousand(value, joined)
    return words


def _paired(value: int) -> list[list[str]]:
    """A four-digit number read as years and round hundreds are: "nineteen eighty four", "nineteen
    oh five", "fifteen hundred"."""
    high, low = divmod(value, 100)
    if not 1000 <= value <= 9999 or (high % 10 == 0 and low < 10):  # 2005: "two thousand five"
        return []
    if low == 0:
        return [_below_hundred(high) + ["hundred"]]
    return [_below_hundred(high) + (["oh", _DIGITS[low]] if low < 10 else _below_hundred(low))]


def _plural(words: list[str]) -> list[str]:
    last = words[-1]
    said = last[:-1] + "ies" if last.endswith("y") else last + ("es" if last.endswith("x") else "s")
    return words[:-1] + [said]


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in _ORDINALS:
        said = _ORDINALS[last]
    elif last.endswith("y"):
        said = last[:-1] + "ieth"
    else:
        said = last + "th"
    return words[:-1] + [said]


def number_readings(token: str) -> list[list[str]]:
    """The ways English says a number written as `token` (`is_number`), most usual first, none
    repeated; ValueError for a token that is not a number."""
    match = re.fullmatch(r"([$£€]?)([\d,]+)(?:\.(\d+))?(st|nd|rd|th|s|%)?", token)
    if match is None or not is_number(token):
        raise ValueError(f"not a number: {token!r}")
    sign, whole, fraction, ending = match.groups()
    digits = whole.replace(",", "")
    value = int(digits)
    one_by_one = [_DIGITS[int(digit)] for digit in digits]
    ordinal = ending in ("st", "nd", "rd", "th")
    readings: list[list[str]] = []
    if value < MAX_SPOKEN and not (len(digits) > 1 and digits.startswith("0")):
        # a year (or round hundreds) first: "nineteen eighty four", "the 1990s"
        readings += _paired(value) if fraction is None and ending in (None, "s") else []
        readings += [cardinal(value), cardinal(value, joined=True)]
    if (len(digits) > 1 and not ordinal) or not readings:
        readings.append(one_by_one)
    if fraction is not None:
        tail = ["point"] + [_DIGITS[int(digit)] for digit in fraction]
        readings = [words + tail for words in readings]
    if ending == "%":
        readings = [words + ["percent"] for words in readings]
    elif ending == "s":
        readings = [_plural(words) for words in readings]
    elif ordinal:
        readings = [_ordinal(words) for words in readings]
    if sign:
        unit = _CURRENCIES[sign] + ("" if value == 1 and fraction is None else "s")
        readings = [words + [unit] for words in readings]
    unique: list[list[str]] = []
    for words in readings:
        if words not in unique:
            unique.append(words)
    return unique
