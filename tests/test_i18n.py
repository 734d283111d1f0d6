"""Every language of settings.LANGUAGES (issue item 8): for each one but
English, a complete, compiled catalog, and client pages that speak the
visitor's language, chosen by the switcher or by Accept-Language.

English stays the default: every other test module runs without a language
cookie or Accept-Language header and sees the English text.

A language of LANGUAGES without a catalog yet fails each of its cases here
with "no catalog for <language>", never a skip: the switcher already offers
it to clients.
"""

from __future__ import annotations

import ast
import gettext
import html
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import translation
from django.utils.translation import to_locale

from help import refusals
from tests.conftest import PASSWORD, csrf_post, login_fully

LOCALE_ROOT = Path(settings.BASE_DIR) / "locale"
LANGUAGES = [code for code, _name in settings.LANGUAGES]
# Every language but the source one has a catalog to check.
TRANSLATED = [code for code in LANGUAGES if code != settings.LANGUAGE_CODE]

# What a visitor's browser sends for each language: Django maps zh-CN to zh-hans.
ACCEPT_LANGUAGE = {
    "it": "it-IT,it;q=0.9,en;q=0.5",
    "es": "es",
    "zh-hans": "zh-CN",
    "ja": "ja",
}

# A fresh checkout writes django.mo just before django.po (git writes in
# path order): only a .mo older than its .po by more than this is stale.
CHECKOUT_SLACK_SECONDS = 5.0


# --- A small .po parser (stdlib only) ---------------------------------------


@dataclass
class PoEntry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0
    source: str = "django.po"

    @property
    def label(self) -> str:
        context = f"[{self.msgctxt}] " if self.msgctxt is not None else ""
        return f"{self.source}:{self.line} {context}{self.msgid[:60]!r}"

    @property
    def translations(self) -> list[str]:
        if self.msgid_plural is None:
            return [self.msgstr]
        return [self.msgstr_plural[index] for index in sorted(self.msgstr_plural)]


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def parse_po(text: str, source: str = "django.po") -> list[PoEntry]:
    """Entries of a .po file, header included (msgid ""); obsolete (#~) entries are skipped."""
    entries: list[PoEntry] = []
    current: PoEntry | None = None
    target: tuple[str, int | None] | None = None
    seen_keyword = False

    def finish() -> None:
        nonlocal current, target, seen_keyword
        if current is not None and seen_keyword:
            entries.append(current)
        current, target, seen_keyword = None, None, False

    def append(entry: PoEntry, where: tuple[str, int | None], value: str) -> None:
        name, index = where
        if name == "msgstr" and index is not None:
            entry.msgstr_plural[index] = entry.msgstr_plural.get(index, "") + value
        else:
            setattr(entry, name, (getattr(entry, name) or "") + value)

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#"):
            if seen_keyword:  # a comment after msgstr starts the next entry
                finish()
            if current is None:
                current = PoEntry(line=number, source=source)
            if line.startswith("#,"):
                current.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, quoted = match.groups()
            if current is None or (keyword in ("msgid", "msgctxt") and target and target[0] == "msgstr"):
                finish()
                current = PoEntry(line=number, source=source)
            name = "msgstr" if keyword.startswith("msgstr") else keyword
            target = (name, int(index) if index is not None else None)
            if name in ("msgctxt", "msgid_plural"):
                setattr(current, name, "")
            append(current, target, ast.literal_eval(quoted))
            seen_keyword = True
            continue
        if line.startswith('"') and current is not None and target is not None:
            append(current, target, ast.literal_eval(line))
            continue
        raise AssertionError(f"{source}:{number}: cannot parse {raw!r}")
    finish()
    return entries


# --- The catalogs -------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    language: str
    po_file: Path
    mo_file: Path
    entries: list[PoEntry]

    @property
    def header(self) -> PoEntry:
        return self.entries[0]

    @property
    def messages(self) -> list[PoEntry]:
        return [entry for entry in self.entries if entry.msgid != ""]

    @property
    def nplurals(self) -> int:
        return int(re.search(r"nplurals=(\d+)", self.header.msgstr).group(1))


def catalog_dir(language: str) -> Path:
    return LOCALE_ROOT / to_locale(language) / "LC_MESSAGES"


@cache
def _load(language: str) -> Catalog | None:
    directory = catalog_dir(language)
    po_file = directory / "django.po"
    if not po_file.exists():
        return None
    source = str(po_file.relative_to(settings.BASE_DIR))
    return Catalog(language, po_file, directory / "django.mo", parse_po(po_file.read_text(encoding="utf-8"), source))


def catalog(language: str) -> Catalog:
    """The language's catalog; its absence fails the test that needs it."""
    found = _load(language)
    if found is None:
        locale = to_locale(language)
        pytest.fail(
            f"no catalog for {language}: locale/{locale}/LC_MESSAGES/django.po is missing "
            f"(makemessages -l {locale}, translate every entry, compilemessages)",
            pytrace=False,
        )
    return found


def compiled(language: str) -> gettext.GNUTranslations:
    found = catalog(language)
    if not found.mo_file.exists():
        pytest.fail(f"no compiled catalog for {language}: run `manage.py compilemessages`", pytrace=False)
    with found.mo_file.open("rb") as handle:
        return gettext.GNUTranslations(handle)


def in_language(language: str, message) -> str:
    with translation.override(language):
        return str(translation.gettext(message) if isinstance(message, str) else message)


# Counts that reach every plural form of our languages (Spanish has one for millions).
_PLURAL_PROBES = [*range(200), 1_000_000, 2_000_000]

# Named and positional printf placeholders, str.format fields and HTML tags.
_PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}|</?[a-zA-Z][^>]*>")


def test_i18n_po_parser_reads_multiline_plural_context_and_fuzzy():
    sample = "\n".join(
        [
            'msgid ""',
            'msgstr ""',
            '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"',
            "",
            "#: a.py:1",
            "#, fuzzy, python-format",
            'msgid ""',
            '"Two "',
            '"lines %(x)s"',
            'msgstr "Due righe %(x)s"',
            "",
            'msgctxt "ctx"',
            'msgid "One"',
            'msgid_plural "Many"',
            'msgstr[0] "Uno"',
            'msgstr[1] "Molti \\"tanti\\""',
            "",
            '#~ msgid "Old"',
            '#~ msgstr "Vecchio"',
        ]
    )
    header, first, second = parse_po(sample)
    assert header.msgid == "" and "nplurals=2" in header.msgstr
    assert first.msgid == "Two lines %(x)s" and first.msgstr == "Due righe %(x)s"
    assert "fuzzy" in first.flags and "python-format" in first.flags
    assert second.msgctxt == "ctx" and second.msgid_plural == "Many"
    assert second.translations == ["Uno", 'Molti "tanti"']


def test_i18n_every_language_but_english_is_checked():
    assert settings.LANGUAGE_CODE == "en" and "en" in LANGUAGES
    assert TRANSLATED == ["it", "es", "zh-hans", "ja"]
    assert set(ACCEPT_LANGUAGE) == set(TRANSLATED)


def test_i18n_a_missing_catalog_fails_with_its_language_named(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "LOCALE_ROOT", tmp_path)
    _load.cache_clear()
    try:
        with pytest.raises(pytest.fail.Exception, match=r"^no catalog for ja: locale/ja/LC_MESSAGES/django.po"):
            catalog("ja")
    finally:
        _load.cache_clear()


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_po_header_is_complete_and_not_fuzzy(language):
    header = catalog(language).header
    assert header.msgid == "", "the header comes first"
    assert "fuzzy" not in header.flags, f"{language}: the header is marked fuzzy"
    declared = re.search(r"^Language: *(\S*)$", header.msgstr, re.M)
    assert declared and declared.group(1).replace("_", "-").lower() == language, (
        f"{language}: the header says {declared.group(0) if declared else 'no Language'}"
    )
    assert "charset=UTF-8" in header.msgstr
    assert re.search(r"Plural-Forms: nplurals=\d+;", header.msgstr)


def untranslated_problems(found: Catalog) -> list[str]:
    problems = []
    for entry in found.messages:
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.label}")
        if entry.msgid_plural is not None and sorted(entry.msgstr_plural) != list(range(found.nplurals)):
            problems.append(f"plural forms {sorted(entry.msgstr_plural)} instead of {found.nplurals}: {entry.label}")
        if not all(text.strip() for text in entry.translations):
            problems.append(f"untranslated: {entry.label}")
            continue
        # Placeholders and line breaks survive translation exactly (a missing
        # placeholder raises at render time; an e-mail keeps its paragraphs).
        for index, text in enumerate(entry.translations):
            source = entry.msgid if entry.msgid_plural is None or index == 0 else entry.msgid_plural
            wanted, found_here = sorted(_PLACEHOLDER.findall(source)), sorted(_PLACEHOLDER.findall(text))
            if found_here != wanted and not (
                entry.msgid_plural and sorted(_PLACEHOLDER.findall(entry.msgid)) == found_here
            ):
                problems.append(f"placeholders {found_here} instead of {wanted}: {entry.label}")
            if text.count("\n") != source.count("\n"):
                problems.append(f"{text.count(chr(10))} line breaks instead of {source.count(chr(10))}: {entry.label}")
    return problems


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_every_po_entry_is_translated(language):
    found = catalog(language)
    assert len(found.messages) > 250, f"{language}: makemessages found far fewer strings than expected"
    problems = untranslated_problems(found)
    assert not problems, f"{language}:\n" + "\n".join(problems)


def test_i18n_an_untranslated_or_fuzzy_entry_is_reported():
    sample = "\n".join(
        [
            'msgid ""',
            'msgstr "Plural-Forms: nplurals=2; plural=(n != 1);\\n"',
            "",
            "#, fuzzy",
            'msgid "Guessed"',
            'msgstr "Indovinato"',
            "",
            'msgid "Empty"',
            'msgstr ""',
            "",
            'msgid "Hello %(name)s"',
            'msgstr "Ciao"',
            "",
            'msgid "Two\\n\\nparagraphs"',
            'msgstr "Due paragrafi"',
            "",
            'msgid "One"',
            'msgid_plural "Many"',
            'msgstr[0] "Uno"',
        ]
    )
    sample_catalog = Catalog("xx", Path("x.po"), Path("x.mo"), parse_po(sample, "x.po"))
    problems = "\n".join(untranslated_problems(sample_catalog))
    assert "fuzzy: x.po:4 'Guessed'" in problems
    assert "untranslated: x.po:8 'Empty'" in problems
    assert "placeholders [] instead of ['%(name)s']" in problems
    assert "0 line breaks instead of 2" in problems
    assert "plural forms [0] instead of 2" in problems


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_no_text_shown_anywhere_cites_our_documents(language):
    """No page, e-mail or PDF (agents' included) cites RULES.md, SECURITY.md,
    ARCHITECTURE.md or the seed: every text that is shown is in the catalog."""
    cited = re.compile(r"(RULES|SECURITY|ARCHITECTURE|STYLE|API)\.md|\bs\d{2,3}\b|principle \d")
    offending = [
        entry.label
        for entry in catalog(language).messages
        for text in (entry.msgid, entry.msgstr, *entry.msgstr_plural.values())
        if cited.search(text)
    ]
    assert offending == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_mo_is_compiled_from_the_current_po(language):
    """A .po edited without running compilemessages fails here: the .mo
    must exist, be no older than the .po, and hold exactly its messages."""
    found = catalog(language)
    mo_catalog = compiled(language)
    lag = found.po_file.stat().st_mtime - found.mo_file.stat().st_mtime
    assert lag <= CHECKOUT_SLACK_SECONDS, (
        f"{language}: django.mo is {lag:.0f} s older than django.po: run `manage.py compilemessages`"
    )
    stale = []
    for entry in found.messages:
        if entry.msgid_plural is None:
            if entry.msgctxt is not None:
                compiled_text = mo_catalog.pgettext(entry.msgctxt, entry.msgid)
            else:
                compiled_text = mo_catalog.gettext(entry.msgid)
            if compiled_text != entry.msgstr:
                stale.append(f"{entry.label}: .mo has {compiled_text!r}")
            continue
        for index, expected in entry.msgstr_plural.items():
            n = next((n for n in _PLURAL_PROBES if mo_catalog.plural(n) == index), None)
            if n is None:
                stale.append(f"{entry.label}: no n selects plural form {index}")
                continue
            if entry.msgctxt is not None:
                compiled_text = mo_catalog.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
            else:
                compiled_text = mo_catalog.ngettext(entry.msgid, entry.msgid_plural, n)
            if compiled_text != expected:
                stale.append(f"{entry.label} [n={n}]: .mo has {compiled_text!r}")
    assert not stale, f"{language}: run `manage.py compilemessages`:\n" + "\n".join(stale)
    # Nor does the .mo hold messages that are no longer in the .po.
    compiled_ids = {key if isinstance(key, str) else key[0] for key in mo_catalog._catalog} - {""}
    po_ids = {entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}" for entry in found.messages}
    assert compiled_ids == po_ids, f"{language}: run `manage.py compilemessages`"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, in_ci) -> dict[str, list[str]]:
    """gettext's own extraction (makemessages, run on a copy of the project)
    merged into each existing catalog: per language, the msgids that lack a
    translation there."""
    import polib
    from django.core.management import call_command

    if not shutil.which("xgettext"):
        if in_ci:
            pytest.fail("GNU gettext (xgettext) is missing; CI installs it")
        pytest.skip("GNU gettext is not installed (apt-get install gettext)")
    languages = [language for language in TRANSLATED if _load(language) is not None]
    if not languages:
        return {}
    root = Path(settings.BASE_DIR)
    copy = tmp_path_factory.mktemp("i18n") / "project"
    skip = shutil.ignore_patterns(".*", "var", "tests", "benchmarks", "docs", "__pycache__", "*.mo", "node_modules")
    shutil.copytree(root, copy, ignore=skip)
    cwd = os.getcwd()
    os.chdir(copy)
    try:
        with override_settings(LOCALE_PATHS=[copy / "locale"]):
            call_command("makemessages", locale=[to_locale(code) for code in languages], no_obsolete=True, verbosity=0)
    finally:
        os.chdir(cwd)
    missing = {}
    for language in languages:
        merged = polib.pofile(str(copy / "locale" / to_locale(language) / "LC_MESSAGES" / "django.po"))
        missing[language] = [e.msgid[:70] for e in merged if e.msgid and (not e.translated() or "fuzzy" in e.flags)]
    return missing


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_every_string_of_the_source_is_in_the_catalog_and_translated(language, extracted):
    """The catalog is complete for the code as it is now: no string of the
    apps or templates lacks a translation (a new string, or one whose
    English changed, shows up here until makemessages and a translation)."""
    catalog(language)
    assert extracted[language] == [], f"{language}: run makemessages -l {to_locale(language)} and translate these"


# --- Pages in every language ----------------------------------------------------


class _Text(HTMLParser):
    """The visible text of a page: text nodes outside <script>/<style>, whitespace squashed.

    With `translatable_only`, also without what an element marked
    translate="no" holds (a postal address reads the same in every language)."""

    def __init__(self, translatable_only: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._skip = 0
        self._translatable_only = translatable_only
        self._untranslated: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        if self._translatable_only and ("translate", "no") in attrs:
            self._untranslated.append(tag)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if self._untranslated and self._untranslated[-1] == tag:
            self._untranslated.pop()

    def handle_data(self, data):
        text = re.sub(r"\s+", " ", data).strip()
        if text and not self._skip and not self._untranslated:
            self.nodes.append(text)


def text_nodes(response, *, translatable_only: bool = False) -> list[str]:
    parser = _Text(translatable_only)
    parser.feed(response.content.decode())
    return parser.nodes


def visible(response) -> str:
    return " ".join(text_nodes(response))


class _Switcher(HTMLParser):
    """The options of the language switcher: (value, lang, selected, text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.options: list[list] = []
        self._in_select = False
        self._option: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select" and attrs.get("name") == "language":
            self._in_select = True
        elif tag == "option" and self._in_select:
            self._option = [attrs.get("value"), attrs.get("lang"), "selected" in attrs, ""]
            self.options.append(self._option)

    def handle_endtag(self, tag):
        if tag == "select":
            self._in_select = False
        if tag == "option":
            self._option = None

    def handle_data(self, data):
        if self._option is not None:
            self._option[3] += data.strip()


def switcher_options(response) -> list[list]:
    parser = _Switcher()
    parser.feed(response.content.decode())
    return parser.options


def use_language(http, language: str) -> None:
    http.cookies[settings.LANGUAGE_COOKIE_NAME] = language


def test_i18n_english_stays_the_default(client, db):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'<html lang="en">' in response.content
    assert "Log in to Account Management" in visible(response)


@pytest.mark.parametrize(
    ("language", "path", "phrases"),
    [
        ("it", "/login/", ["Accesso alla Gestione Conto", "Nome utente", "I nomi utente si digitano in minuscolo."]),
        (
            "it",
            "/help/",
            [
                "Risoluzione dei problemi di accesso alla Gestione Conto",
                "Clicchi sul link sottostante che meglio descrive la sua situazione:",
                "Torna all'inizio",
            ],
        ),
        (
            "it",
            "/help/contact/",
            [
                "Contattare il Servizio Clienti",
                "Numeri di telefono dei Centri Servizio Clienti, per regione",
                "Stati Uniti e Canada",
                "Asia (escluso il Giappone)",
            ],
        ),
        (
            "it",
            "/login/forgot/",
            ["Nome utente o password dimenticati", "Ulteriori informazioni sui problemi di accesso"],
        ),
        (
            "es",
            "/login/",
            [
                "Iniciar sesión en Gestión de Cuenta",
                "Nombre de usuario",
                "Los nombres de usuario se escriben en minúsculas.",
            ],
        ),
        (
            "es",
            "/help/",
            [
                "Solución de problemas de inicio de sesión en Gestión de Cuenta",
                "Haga clic en el enlace que mejor describa su situación:",
                "Se me asignó un código temporal de seguridad que ha caducado",
                "Volver al principio",
            ],
        ),
        (
            "es",
            "/help/contact/",
            [
                "Contactar con el Servicio de Atención al Cliente",
                "Números de teléfono de los Centros de Atención al Cliente, por región",
                "EE.UU. y Canadá",
                "Asia (excepto Japón)",
                "nuestro equipo de soporte técnico",
            ],
        ),
        (
            "es",
            "/login/forgot/",
            ["Nombre de usuario o contraseña olvidados", "Más información sobre problemas de inicio"],
        ),
    ],
)
def test_i18n_public_pages_in_their_own_words(client, db, language, path, phrases):
    use_language(client, language)
    response = client.get(path)
    assert response.status_code == 200
    assert f'<html lang="{language}">'.encode() in response.content
    text = visible(response)
    for phrase in phrases:
        assert phrase in text, phrase


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_accept_language_header_selects_each_language(client, db, language):
    catalog(language)
    response = client.get("/help/", HTTP_ACCEPT_LANGUAGE=ACCEPT_LANGUAGE[language])
    assert f'<html lang="{language}">'.encode() in response.content
    title = in_language(language, "Troubleshooting Account Management Login Failures")
    assert title != "Troubleshooting Account Management Login Failures", f"{language}: the title is not translated"
    assert title in visible(response)


def test_i18n_accept_language_picks_spanish_for_a_spanish_speaking_country(client, db):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9,en;q=0.5")
    assert b'<html lang="es">' in response.content
    assert "Iniciar sesión en Gestión de Cuenta" in visible(response)


def test_i18n_code_page_in_italian(web, alice, clock):
    use_language(web, "it")
    step_one = csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    assert step_one.status_code == 302 and step_one.url == "/login/code/"
    response = web.get("/login/code/")
    assert response.status_code == 200
    assert b'<html lang="it">' in response.content
    text = visible(response)
    assert "Inserisca i suoi codici di sicurezza" in text
    assert "sulla sua Carta con codici di sicurezza e digiti il codice stampato sotto ciascuno" in text
    assert "Codice numero" in text and "Continua" in text


def test_i18n_code_page_in_spanish(web, alice, clock):
    use_language(web, "es")
    step_one = csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    assert step_one.status_code == 302 and step_one.url == "/login/code/"
    response = web.get("/login/code/")
    assert b'<html lang="es">' in response.content
    text = visible(response)
    assert "Introduzca sus códigos de seguridad" in text
    assert "en su Tarjeta de Códigos de Seguridad y escriba el código impreso bajo cada uno, sin espacios." in text
    assert "Código número" in text and "Continuar" in text


def _alert(response) -> str:
    """The refusal's message: the first text of the role=alert block."""
    match = re.search(r'<p class="refusal-message"><strong>(.*?)</strong>', response.content.decode(), re.S)
    assert match, "no refusal on the page"
    return html.unescape(match.group(1)).strip()


def _login_refusals(web) -> dict[str, object]:
    bad = csrf_post(web, "/login/", {"username": "alice!", "password": PASSWORD})
    wrong = csrf_post(web, "/login/", {"username": "alice", "password": "nope nope nope"})
    csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    failed = csrf_post(web, "/login/code/", {"code_1": "A A", "code_2": "BBB"})
    assert (bad.status_code, wrong.status_code, failed.status_code) == (400, 401, 401)
    return {"bad": bad, "wrong": wrong, "failed": failed}


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_login_refusals_match_the_help_page_in_each_language(web, alice, clock, language):
    catalog(language)
    use_language(web, language)
    responses = _login_refusals(web)
    shown = {name: _alert(response) for name, response in responses.items()}
    assert shown == {
        "bad": in_language(language, refusals.bad_character().message),
        "wrong": in_language(language, refusals.invalid_credentials().message),
        "failed": in_language(language, refusals.login_failed().message),
    }
    # The L4 hint and the link to the help page come in that language too.
    assert in_language(language, refusals.HINT_NO_SPACES) in visible(responses["failed"])
    assert in_language(language, "What does this mean and what can I do?") in visible(responses["failed"])

    # H1 quotes each message exactly as the login page shows it, in each
    # language, within that language's own quotation marks.
    text = visible(web.get("/help/"))
    headings = {
        "bad": "Receiving “%(message)s” message after entering my user name",
        "wrong": "Receiving “%(message)s” message",
        "failed": "Receiving “%(message)s” message upon entering security device values",
    }
    for name, message in shown.items():
        assert in_language(language, headings[name]) % {"message": message} in text, (name, message)
    for english in ("BAD CHARACTER", "Invalid user name password combination", "Login Failed"):
        assert english not in text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("it", {"bad": "CARATTERE NON VALIDO", "wrong": "Combinazione nome utente e password non valida",
                "failed": "Accesso non riuscito"}),
        ("es", {"bad": "CARÁCTER NO VÁLIDO", "wrong": "Combinación de nombre de usuario y contraseña no válida",
                "failed": "Inicio de sesión fallido"}),
    ],
)  # fmt: skip
def test_i18n_login_refusals_in_their_own_words(web, alice, clock, language, expected):
    use_language(web, language)
    assert {name: _alert(response) for name, response in _login_refusals(web).items()} == expected


def test_i18n_help_quotes_match_login_messages_in_english(client, db):
    text = visible(client.get("/help/"))
    for refusal in (refusals.bad_character(), refusals.invalid_credentials(), refusals.login_failed()):
        with translation.override("en"):
            assert f"“{refusal.message}”" in text


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_form_errors_in_each_language(web, db, language):
    catalog(language)
    use_language(web, language)
    response = csrf_post(web, "/login/", {"username": "", "password": ""})
    assert response.status_code == 400
    text = visible(response)
    for message in ("Enter your username.", "Enter your password."):
        assert in_language(language, message) != message, f"{language}: {message!r} is not translated"
        assert in_language(language, message) in text


def test_i18n_form_errors_in_italian_and_spanish(web, db):
    for language, expected in (
        ("it", ["Inserisca il suo nome utente.", "Inserisca la sua password."]),
        ("es", ["Introduzca su nombre de usuario.", "Introduzca su contraseña."]),
    ):
        use_language(web, language)
        text = visible(csrf_post(web, "/login/", {"username": "", "password": ""}))
        assert all(message in text for message in expected), (language, text)


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_language_switcher_sets_each_language(web, db, language):
    catalog(language)
    page = web.get("/help/")
    assert b'action="/i18n/setlang/"' in page.content and b'<html lang="en">' in page.content
    response = csrf_post(web, "/i18n/setlang/", {"language": language, "next": "/help/"})
    assert response.status_code == 302 and response.url == "/help/"
    assert web.cookies[settings.LANGUAGE_COOKIE_NAME].value == language
    after = web.get(response.url)
    assert f'<html lang="{language}">'.encode() in after.content
    assert in_language(language, "Troubleshooting Account Management Login Failures") in visible(after)
    # And back to English.
    back = csrf_post(web, "/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert b'<html lang="en">' in web.get(back.url).content


# Sentences of the client pages, one or more per page. Each must be on the
# English page and gone from the translated one, replaced by its translation.
ENGLISH_SENTENCES = {
    "/login/": [
        "Log in to Account Management",
        "Usernames are typed in lower case.",
        "Forgot your username or password?",
        "All login assistance starts with a telephone call and a check of your identity.",
    ],
    "/login/forgot/": ["Forgotten username or password", "More about login problems"],
    "/help/": [
        "Click on the link below which best describes your situation:",
        "I’ve forgotten my user name and/or password",
        "User names contain only letters and digits, typed in lower case.",
        "Customer Service Centers and their telephone numbers",
    ],
    "/help/contact/": [
        "Telephone numbers of the Customer Service Centers, by region",
        "There is no separate number for Japan: please call the numbers for Asia.",
        "Questions about security",
    ],
    "/": ["Your accounts", "Account number", "Equity (USD)"],
    "/settings/security/sls/": ["Your security devices", "Serial number", "Since"],
    "/returns/": [
        "Return a device",
        "Packing and shipping",
        "Where to send it",
        "There are no charges on your accounts.",
    ],
    "/logout/": ["Log out now"],
}
PUBLIC_PAGES = ["/login/", "/login/forgot/", "/help/", "/help/contact/"]
PRIVATE_PAGES = ["/", "/settings/security/sls/", "/returns/", "/logout/"]

# Text that reads the same in every language: the languages' own names (the
# switcher), loanwords, place names, e-mail addresses and serial numbers.
_SAME_IN_ALL = re.compile(
    "^(?:"
    + "|".join(re.escape(name) for _code, name in settings.LANGUAGES)
    + r"|Password|Australia|Hong Kong|Singapore|[^\s@]+@[^\s@]+|[A-Z]{2}\d{6,})$"
)


def render_client_pages(user, language: str) -> dict[str, object]:
    """The client pages rendered for `user`, public ones then logged in, in `language`."""
    http = HttpClient(enforce_csrf_checks=True)
    use_language(http, language)
    rendered = {path: http.get(path) for path in PUBLIC_PAGES}
    assert login_fully(http, user).status_code == 302
    rendered.update({path: http.get(path) for path in PRIVATE_PAGES})
    for path, response in rendered.items():
        assert response.status_code == 200, (language, path)
        assert f'<html lang="{language}">'.encode() in response.content, (language, path)
    return rendered


@pytest.fixture
def english_pages(alice, clock):
    return render_client_pages(alice, "en")


@pytest.mark.parametrize("language", LANGUAGES)
def test_i18n_language_switcher_on_every_page_lists_the_five_languages(alice, clock, language):
    expected = [[code, code, code == language, name] for code, name in settings.LANGUAGES]
    assert len(expected) == 5
    for path, response in render_client_pages(alice, language).items():
        assert switcher_options(response) == expected, f"{language} {path}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_known_english_sentences_are_translated(alice, english_pages, language):
    catalog(language)
    pages = render_client_pages(alice, language)
    for path, sentences in ENGLISH_SENTENCES.items():
        english, translated = visible(english_pages[path]), visible(pages[path])
        for sentence in sentences:
            assert sentence in english, f"{path}: {sentence!r} is no longer on the English page"
            assert sentence not in translated, f"{language} {path}: {sentence!r} is not translated"
            assert in_language(language, sentence) in translated, f"{language} {path}: no translation of {sentence!r}"


def english_leftovers(pages: dict, english_pages: dict) -> list[str]:
    """Text nodes of the translated pages that are, word for word, on the English page."""
    leftovers = []
    for path, response in pages.items():
        english_nodes = set(text_nodes(english_pages[path]))
        for node in text_nodes(response, translatable_only=True):
            if node in english_nodes and re.search(r"[A-Za-z]{2}", node) and not _SAME_IN_ALL.match(node):
                leftovers.append(f"{path}: {node!r}")
    return leftovers


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_no_english_text_node_left_on_translated_pages(alice, english_pages, language):
    """Catches text added to a template, or a string of the code, without gettext."""
    catalog(language)
    leftovers = english_leftovers(render_client_pages(alice, language), english_pages)
    assert not leftovers, f"{language}:\n" + "\n".join(leftovers)


@dataclass
class _Page:
    content: bytes


def test_i18n_an_unmarked_string_on_a_page_is_caught(alice, english_pages):
    """The check above can fail: a text outside {% translate %} stays
    English on the Spanish page, and only that text is reported."""
    spanish = render_client_pages(alice, "es")
    assert english_leftovers(spanish, english_pages) == []
    unmarked = "Usernames are typed in lower case."
    login_page = spanish["/login/"].content.decode().replace(in_language("es", unmarked), unmarked)
    spanish["/login/"] = _Page(login_page.encode())
    assert english_leftovers(spanish, english_pages) == [f"/login/: {unmarked!r}"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_i18n_password_reset_email_in_each_language(alice, language):
    catalog(language)
    context = {"client": alice.client, "username": "alice", "link": "https://sls.example/x/", "valid_minutes": 60}
    with translation.override(language):
        body = render_to_string("admin/accounts/password_reset_email.txt", context)
    greeting = in_language(language, "Dear %(name)s,") % {"name": "Alice"}
    assert greeting != "Dear Alice,"
    assert body.startswith(greeting)
    assert "alice" in body and "60" in body
    assert "Dear" not in body and "The link works once" not in body


def test_i18n_password_reset_email_in_italian(alice):
    context = {"client": alice.client, "username": "alice", "link": "https://sls.example/x/", "valid_minutes": 60}
    with translation.override("it"):
        body = render_to_string("admin/accounts/password_reset_email.txt", context)
    assert body.startswith("Gentile Alice,")
    assert "per il nome utente alice:" in body and "per 60 minuti" in body


def test_i18n_password_reset_email_in_spanish(alice):
    context = {"client": alice.client, "username": "alice", "link": "https://sls.example/x/", "valid_minutes": 60}
    with translation.override("es"):
        body = render_to_string("admin/accounts/password_reset_email.txt", context)
    assert body.startswith("Estimado/a Alice:")
    assert "para el nombre de usuario alice:" in body and "durante 60 minutos" in body
