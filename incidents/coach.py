"""The apology coach: points out fake-apology and policy phrases and offers warmer wording.

It never blocks a record (the apology happened); it only notes what it flagged. The same phrase
list is sent to the page, where a small script marks phrases as they are typed.
"""

import re

# Seeded into every new organization; managers edit their organization's copy.
DEFAULT_PHRASES = [
    ("if what you say is correct", "conditional", "I'm so sorry this happened to you."),
    ("if you feel that way", "conditional", "I'm sorry; I can see why this upset you."),
    ("if you feel", "conditional", "I'm sorry; I can see why this upset you."),
    ("if that's what happened", "conditional", "I'm sorry this happened."),
    ("sorry if", "conditional", "I'm sorry that…"),
    ("please accept my apology", "dismissive", "I'm truly sorry. Let me put this right."),
    ("please accept our apologies", "dismissive", "I'm truly sorry. Let me put this right."),
    ("sorry for any inconvenience", "dismissive", "I'm sorry for the trouble we caused you."),
    ("we have wonderful staff", "defensive", "I'm sorry we let you down today."),
    ("i'm surprised", "defensive", "You're right to expect better from us."),
    ("this never happens", "defensive", "I'm sorry it happened to you."),
    ("it's our policy", "policy", "Let me see what I can do for you."),
    ("company policy", "policy", "Let me see what I can do for you."),
    ("we don't allow", "policy", "Here's what I can do for you…"),
    ("you'll need to ask a manager", "policy", "I'll take care of this for you myself."),
    ("that's not my department", "policy", "I'll make sure this gets sorted for you."),
    ("there's nothing i can do", "policy", "Here's what I can do right now…"),
]

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def normalize(text):
    return text.translate(_QUOTES).lower()


def find_flags(text, phrases):
    """Return what the coach flags in `text`, in reading order.

    `phrases` are (phrase, kind, suggestion) triples. A phrase found inside a longer flagged phrase
    ("if you feel" inside "if you feel that way") is reported once, as the longer one.
    """
    haystack = normalize(text)
    found = []
    for phrase, kind, suggestion in sorted(phrases, key=lambda p: -len(p[0])):
        pattern = r"(?<![\w])" + re.escape(normalize(phrase)) + r"(?![\w])"
        for match in re.finditer(pattern, haystack):
            start, end = match.span()
            if any(start < other["end"] and other["start"] < end for other in found):
                continue
            found.append(
                {"phrase": phrase, "kind": kind, "suggestion": suggestion, "start": start, "end": end,
                 "text": text[start:end]}
            )
    return sorted(found, key=lambda flag: flag["start"])
