"""Every word a template shows is marked for translation.

A template is read with Django's own Lexer: text tokens are kept as they are, tags and variables are left out,
and what sits between {% blocktranslate %} and {% endblocktranslate %} (or {% comment %}) is dropped. The text
that remains is read by the standard library's HTML parser, so text between tags and the attributes people
read (placeholder, title, aria-label, alt, the label of a submit input, …) are judged, while markup, <script>
and <style> code are not. A run of text fails when, with tags, entities, digits and punctuation gone, letters
remain. Variables are judged too: a literal word passed to `default`, `default_if_none` or `yesno` must be
marked as `_("…")`, and `pluralize` is refused because it only knows English plurals (use
{% blocktranslate count %}). Tags hand text over too: {% include … with help="…" %} and {% firstof … "…" %}.

Not read here: words that reach a template from Python (form labels, model choices, messages) are marked
where they are written, and the page scripts' words go through Django's JavaScript catalogue.
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.template import engines
from django.template.base import Lexer, TokenType, filter_re, kwarg_re

TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"

# The allow-list, kept small on purpose.
# The product's name is a brand: it reads the same in every language.
BRAND_WORDS = {"Recovery"}
# Text inside these elements is program code or a literal value the software reads (an HTTP header, a
# location code, a token's prefix), not a sentence.
CODE_ELEMENTS = {"script", "style", "code", "kbd", "samp"}
# Attributes whose values people read or hear (screen readers announce aria-* labels and descriptions).
TEXT_ATTRIBUTES = {
    "placeholder",
    "title",
    "alt",
    "aria-label",
    "aria-description",
    "aria-roledescription",
    "aria-valuetext",
    "aria-placeholder",
    "label",
}
# An <input>'s value is its visible label only on these types; elsewhere (hidden, text, a <button>'s
# value) it is data the form sends.
LABELLED_INPUT_TYPES = {"submit", "button", "reset"}
# data-* attributes the page scripts show to people are named for it: data-…-text, data-…-label, ….
SHOWN_DATA_SUFFIXES = ("-text", "-label", "-message", "-title", "-words")
# Filters whose literal argument ends up on the page.
TEXT_ARGUMENT_FILTERS = {"default", "default_if_none", "yesno"}
# Names under which {% include … with … %} and {% with %} hand text to the template that shows it
# (other names carry values the template reads, such as section="problems").
TEXT_PARAMETERS = {
    "help",
    "label",
    "title",
    "text",
    "hint",
    "message",
    "placeholder",
    "caption",
    "legend",
    "heading",
    "button",
}

TRANSLATE_TAGS = {"translate", "trans"}
BLOCK_TRANSLATE_TAGS = {"blocktranslate", "blocktrans"}
# Tags whose contents never reach the page as written, with the tag that ends them.
SKIPPED_BLOCKS = {
    "blocktranslate": "endblocktranslate",
    "blocktrans": "endblocktrans",
    "comment": "endcomment",
}

WORD = re.compile(r"[^\W\d_]+")
# {% translate %} escapes what it outputs, so an entity in its text would show as written ("&amp;amp;").
ENTITY = re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")


@dataclass(frozen=True)
class Unmarked:
    line: int
    text: str

    def __str__(self):
        return f"{self.line}: {self.text}"


def has_words(text):
    """Whether letters remain once the brand, digits and punctuation are set aside."""
    return any(word not in BRAND_WORDS for word in WORD.findall(text))


def _one_line(text):
    return " ".join(text.split())


def _filter_findings(token):
    """Literal words in a {{ variable }}: its filters' text arguments, a quoted constant, `pluralize`."""
    found = []
    for match in filter_re.finditer(token.contents):
        constant = match.group("constant") or match.group("constant_arg")
        name = match.group("filter_name")
        if name == "pluralize":
            found.append(
                Unmarked(
                    token.lineno,
                    f"{{{{ {token.contents} }}}} (pluralize: use blocktranslate count)",
                )
            )
        elif (
            constant
            and not constant.startswith("_(")
            and has_words(constant)
            and (match.group("constant") or name in TEXT_ARGUMENT_FILTERS)
        ):
            found.append(Unmarked(token.lineno, f"{{{{ {token.contents} }}}}"))
    return found


def _is_unmarked_literal(bit):
    return bit[:1] in {'"', "'"} and has_words(bit)


def _tag_findings(token):
    """Literal words handed over by a tag: {% firstof a "words" %}, {% include … with help="words" %}."""
    bits = token.split_contents()
    name, found = bits[0], []
    if name in TRANSLATE_TAGS and len(bits) > 1 and ENTITY.search(bits[1]):
        return [
            Unmarked(
                token.lineno,
                f"{{% {token.contents} %}} (translate escapes: write the character, not the entity)",
            )
        ]
    if name == "firstof":
        found = [bit for bit in bits[1:] if _is_unmarked_literal(bit)]
    elif name in {"include", "with"}:
        for bit in bits[1:]:
            keyword, value = kwarg_re.match(bit).groups()
            if keyword in TEXT_PARAMETERS and _is_unmarked_literal(value):
                found.append(bit)
    return [Unmarked(token.lineno, f"{{% {token.contents} %}}")] if found else []


def skeleton(source):
    """The template's text with every tag and variable taken out and what a translation block holds dropped,
    line for line (so a line number in it is a line number in the template), and the findings in variables."""
    parts, found = [], []
    closing = None
    for token in Lexer(source).tokenize():
        if closing is not None:
            if token.token_type is TokenType.BLOCK and token.contents.split()[:1] == [
                closing
            ]:
                closing = None
            parts.append("\n" * token.contents.count("\n"))
        elif token.token_type is TokenType.TEXT:
            parts.append(token.contents)
        elif token.token_type is TokenType.VAR:
            found.extend(_filter_findings(token))
        elif token.token_type is TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            closing = SKIPPED_BLOCKS.get(name)
            found.extend(_tag_findings(token))
    return "".join(parts), found


class _PageText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []
        self.code_depth = 0

    def handle_starttag(self, tag, attrs):
        self._attributes(tag, attrs)
        if tag in CODE_ELEMENTS:
            self.code_depth += 1

    def handle_startendtag(self, tag, attrs):
        self._attributes(tag, attrs)

    def handle_endtag(self, tag):
        if tag in CODE_ELEMENTS and self.code_depth:
            self.code_depth -= 1

    def _attributes(self, tag, attrs):
        attributes = dict(attrs)
        line = self.getpos()[0]
        for name, value in attrs:
            shown = (
                name in TEXT_ATTRIBUTES
                or (name.startswith("data-") and name.endswith(SHOWN_DATA_SUFFIXES))
                or (
                    name == "value"
                    and tag == "input"
                    and (attributes.get("type") or "").lower() in LABELLED_INPUT_TYPES
                )
                or (
                    name == "content"
                    and tag == "meta"
                    and attributes.get("name") == "description"
                )
            )
            if shown and value and has_words(value):
                self.found.append(
                    Unmarked(line, f'<{tag} {name}="{_one_line(value)}">')
                )

    def handle_data(self, data):
        if self.code_depth or not has_words(data):
            return
        stripped = data.lstrip()
        line = self.getpos()[0] + data[: len(data) - len(stripped)].count("\n")
        self.found.append(Unmarked(line, _one_line(data)))


def unmarked_text(source, *, html=True):
    """Every run of shown text in a template's source that is not marked for translation, in order."""
    text, found = skeleton(source)
    if html:
        page = _PageText()
        page.feed(text)
        page.close()
        found += page.found
    else:
        line = 1
        for piece in re.split(r"(\n)", text):
            if piece == "\n":
                line += 1
            elif has_words(piece):
                found.append(Unmarked(line, _one_line(piece)))
    return sorted(found, key=lambda item: item.line)


def template_paths():
    return sorted(
        path
        for path in TEMPLATES_DIR.rglob("*")
        if path.is_file() and path.suffix in {".html", ".txt"}
    )


def unmarked_in(path):
    return unmarked_text(path.read_text(encoding="utf-8"), html=path.suffix == ".html")


# --- The checker itself ----------------------------------------------------------------------------


def test_an_unmarked_word_is_reported_with_its_line():
    source = '{% load i18n %}<h1>{% translate "Open recoveries" %}</h1>\n<p>Nothing open.</p>'

    assert unmarked_text(source) == [Unmarked(2, "Nothing open.")]


def test_a_template_with_everything_marked_passes():
    source = """{% load i18n %}{% translate "Find a customer" as find %}
<title>{% block title %}{% translate "My open recoveries" %}{% endblock %} · Recovery</title>
<input type="search" placeholder="{{ find }}" aria-label="{{ find }}" name="q" value="{{ q }}">
<input type="hidden" name="next" value="home">
<p>{% blocktranslate trimmed count counter=n with name=customer.name %}
  One incident for <strong>{{ name }}</strong>.
{% plural %}
  {{ counter }} incidents for <strong>{{ name }}</strong>.
{% endblocktranslate %}</p>
<p class="{% if late %}late{% endif %}">{{ incident.reference }} &middot; 12:05 — {{ when|date:"j M Y" }}</p>
<td>{{ place.region|default:"—" }} {{ client.active|yesno:_("Active,Deactivated") }}</td>
{# a note for the people who edit this #}{% comment %}Longer notes too.{% endcomment %}
<code>Authorization: Token …</code>
<script>var words = "not checked here";</script><style>body { font: system-ui; }</style>
"""

    assert unmarked_text(source) == []


def test_attributes_people_read_are_judged():
    source = (
        '<input placeholder="Find a customer">\n'
        '<a title="Your sign-in" aria-label="Main">x{% translate "y" %}</a>\n'
        '<img alt="The chart">\n'
        '<input type="submit" value="Save">\n'
        '<button type="submit" name="verdict" value="approve">{% translate "Approve" %}</button>\n'
    )

    assert [item.line for item in unmarked_text(source)] == [1, 2, 2, 2, 3, 4]


def test_literal_words_in_variables_and_hand_made_plurals_are_reported():
    source = '{{ a|default:"Never" }}\n{{ b|yesno:"Yes,No" }}\n{{ n }} incident{{ n|pluralize }}\n'

    assert unmarked_text(source) == [
        Unmarked(1, '{{ a|default:"Never" }}'),
        Unmarked(2, '{{ b|yesno:"Yes,No" }}'),
        Unmarked(3, "{{ n|pluralize }} (pluralize: use blocktranslate count)"),
        Unmarked(3, "incident"),
    ]


def test_literal_words_handed_over_by_tags_are_reported():
    source = (
        '{% include "mfa/_code_field.html" with autofocus=True help="Enter a code." %}\n'
        '{% include "insights/_head.html" with section="problems" help=_("Marked.") %}\n'
        '{% firstof owner.name "Nobody yet" %}{% firstof owner.name _("Nobody yet") %}\n'
    )

    assert [item.line for item in unmarked_text(source)] == [1, 3]


def test_an_entity_inside_translate_is_reported_because_it_would_be_escaped_again():
    source = '{% load i18n %}<a>{% translate "API clients &amp; webhooks" %}</a><a>{% translate "Clients & hooks" %}</a>'

    assert [item.line for item in unmarked_text(source)] == [1]


def test_plain_text_templates_are_read_line_by_line():
    source = '{% load i18n %}{% autoescape off %}{% translate "Hello" %} {{ name }},\n\n{{ url }}\nThe Recovery team\n'

    assert unmarked_text(source, html=False) == [Unmarked(4, "The Recovery team")]


# --- The product's templates ----------------------------------------------------------------------


def test_every_template_compiles():
    """A {% translate %} without {% load i18n %}, or a filter inside a blocktranslate, fails here."""
    engine = engines["django"]
    for path in template_paths():
        engine.get_template(path.relative_to(TEMPLATES_DIR).as_posix())


def test_every_shown_string_in_the_templates_is_marked_for_translation():
    report = [
        f"{path.relative_to(TEMPLATES_DIR)}:{item}"
        for path in template_paths()
        for item in unmarked_in(path)
    ]

    assert not report, "Text not marked for translation:\n" + "\n".join(report)
