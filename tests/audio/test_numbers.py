"""Numbers in a transcript read as English says them: years, counts, ordinals, decimals,
currencies, percentages and decades, every reading offered to the aligner."""

import pytest

from reenact.audio.numbers import MAX_SPOKEN, cardinal, is_number, number_readings


def said(token: str) -> list[str]:
    return [" ".join(words) for words in number_readings(token)]


@pytest.mark.parametrize("token, first, others", [
    ("1984", "nineteen eighty four", ["one thousand nine hundred eighty four", "one nine eight four"]),
    ("2012", "twenty twelve", ["two thousand twelve", "two thousand and twelve"]),
    ("2005", "two thousand five", ["two zero zero five"]),
    ("1905", "nineteen oh five", ["one thousand nine hundred five"]),
    ("1500", "fifteen hundred", ["one thousand five hundred"]),
    ("250", "two hundred fifty", ["two hundred and fifty", "two five zero"]),
    ("17", "seventeen", ["one seven"]),
    ("3", "three", []),
    ("0", "zero", []),
    ("1000000", "one million", []),
    ("1000042", "one million forty two", ["one million and forty two"]),
    ("3.5", "three point five", []),
    ("21st", "twenty first", []),
    ("12th", "twelfth", []),
    ("40th", "fortieth", []),
    ("$5", "five dollars", []),
    ("$1", "one dollar", []),
    ("£2.50", "two point five zero pounds", []),
    ("10%", "ten percent", ["one zero percent"]),
    ("1990s", "nineteen nineties", []),
    ("007", "zero zero seven", []),  # a leading zero: digits only
])
def test_a_number_is_read_as_english_says_it(token, first, others):
    assert is_number(token)
    readings = said(token)
    assert readings[0] == first
    assert set(others) <= set(readings)
    assert len(readings) == len(set(readings))  # none offered twice


def test_ordinals_are_not_read_digit_by_digit():
    assert said("21st") == ["twenty first"]


def test_a_number_too_long_to_say_is_read_digit_by_digit():
    assert said(str(MAX_SPOKEN)) == ["one" + " zero" * 12]


@pytest.mark.parametrize("value, words", [
    (101, "one hundred one"), (110, "one hundred ten"), (999, "nine hundred ninety nine"),
    (1001, "one thousand one"), (20000, "twenty thousand"),
    (123456789, "one hundred twenty three million four hundred fifty six thousand seven hundred "
                "eighty nine"),
])
def test_cardinals(value, words):
    assert " ".join(cardinal(value)) == words


def test_british_cardinals_join_with_and():
    assert " ".join(cardinal(101, joined=True)) == "one hundred and one"
    assert " ".join(cardinal(2012, joined=True)) == "two thousand and twelve"


@pytest.mark.parametrize("token", ["abc", "12a", "", "1,2", "$", "%"])
def test_other_tokens_are_not_numbers(token):
    assert not is_number(token)
    with pytest.raises(ValueError, match="not a number"):
        number_readings(token)
