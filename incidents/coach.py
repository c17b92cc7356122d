"""The apology coach: points out fake-apology and policy phrases and offers warmer wording.

It never blocks a record (the apology happened); it only notes what it flagged. The same phrase
list is sent to the page, where a small script marks phrases as they are typed.
"""

import re
import unicodedata

from django.utils import translation

from recovery import languages

# Seeded into every new organization, a list per language; managers edit their organization's copy.
DEFAULT_PHRASES = {
    "en": [
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
    ],
    # Written for a customer addressed as "usted", as hotels and restaurants do.
    "es": [
        ("si lo que dice es correcto", "conditional", "Siento mucho que le haya pasado esto."),
        ("si se siente así", "conditional", "Lo siento; entiendo que esto le haya molestado."),
        ("si le ha molestado", "conditional", "Siento mucho haberle causado esta molestia."),
        ("si eso es lo que pasó", "conditional", "Siento que haya pasado esto."),
        ("perdone si", "conditional", "Siento que…"),
        ("disculpe si", "conditional", "Siento que…"),
        ("acepte mis disculpas", "dismissive", "Lo siento de verdad. Permítame solucionarlo."),
        ("acepte nuestras disculpas", "dismissive", "Lo siento de verdad. Permítame solucionarlo."),
        ("lamentamos cualquier inconveniente", "dismissive", "Siento las molestias que le hemos causado."),
        ("disculpe las molestias", "dismissive", "Siento de verdad las molestias que le hemos causado."),
        ("tenemos un personal maravilloso", "defensive", "Siento que hoy le hayamos fallado."),
        ("me sorprende", "defensive", "Tiene toda la razón en esperar más de nosotros."),
        ("esto nunca pasa", "defensive", "Siento que le haya pasado a usted."),
        ("es nuestra política", "policy", "Déjeme ver qué puedo hacer por usted."),
        ("política de la empresa", "policy", "Déjeme ver qué puedo hacer por usted."),
        ("no está permitido", "policy", "Esto es lo que puedo hacer por usted…"),
        ("no permitimos", "policy", "Esto es lo que puedo hacer por usted…"),
        ("tendrá que hablar con un encargado", "policy", "Yo me ocupo personalmente de esto."),
        ("no es mi departamento", "policy", "Me aseguro de que se lo resuelvan."),
        ("no puedo hacer nada", "policy", "Esto es lo que puedo hacer ahora mismo…"),
    ],
}

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _fold(character):
    # One character in, one out, so a match's place in the folded text is its place in the typed text.
    return unicodedata.normalize("NFD", character.lower())[:1] or character


def normalize(text):
    """Lower case, straight quotes and no accents: "Es nuestra POLÍTICA" matches "es nuestra politica"."""
    return "".join(_fold(character) for character in text.translate(_QUOTES))


def language_of_apology(customer):
    """The language an apology to `customer` is spoken in, whose phrases the coach checks: the customer's
    when the app has it, else the language the person writing it works in."""
    return ((customer is not None and languages.supported(customer.language))
            or languages.supported(translation.get_language()) or "en")


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
