"""H1, H2: the troubleshooting page and the contact page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from help.refusals import HELP_ANCHORS
from tests.conftest import PASSWORD, csrf_post


class _Page(HTMLParser):
    """Ids, links and the text of each element with an id (sections, headings)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.link_texts: dict[str, list[str]] = {}
        self.section_text: dict[str, str] = {}
        self._open_sections: list[str] = []
        self._open_link: str | None = None
        self.inline_styles = 0
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if "style" in attrs:
            self.inline_styles += 1
        if tag == "script":
            self.scripts += 1
        if tag == "section" and attrs.get("id"):
            self._open_sections.append(attrs["id"])
            self.section_text[attrs["id"]] = ""
        elif tag == "section":
            self._open_sections.append("")
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
            self._open_link = attrs["href"]
            self.link_texts.setdefault(self._open_link, []).append("")

    def handle_endtag(self, tag):
        if tag == "section" and self._open_sections:
            self._open_sections.pop()
        if tag == "a":
            self._open_link = None

    def handle_data(self, data):
        for section in self._open_sections:
            if section:
                self.section_text[section] += data
        if self._open_link is not None:
            self.link_texts[self._open_link][-1] += data


def parse(response) -> _Page:
    page = _Page()
    page.feed(response.content.decode())
    return page


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture
def help_page(client, db):
    response = client.get("/help/")
    assert response.status_code == 200
    return parse(response)


@pytest.fixture
def contact_page(client, db):
    response = client.get("/help/contact/")
    assert response.status_code == 200
    return parse(response)


# s311-321, as the seed words them.
SITUATIONS = {
    1: "Receiving “Invalid user name password combination” message",
    2: "Receiving “Login Failed” message upon entering security device values",
    3: "I’ve forgotten my user name and/or password",
    4: "I’m temporarily without possession of my security device",
    5: "My security device has been lost or damaged",
    6: "I’ve been issued a temporary passcode which has expired",
    7: "I’ve been issued an online security card which has expired",
    8: "I’m awaiting delivery of my physical security device and can now no longer log into my account",
    9: "I am able to log into Account Management with my temporary passcode but not the trading platform",
    10: "I am in possession of my security device and wish to activate it",
    11: "Receiving “BAD CHARACTER” message after entering my user name",
}


def test_H1_page_is_titled_as_the_seed(client, db):
    response = client.get("/help/")
    assert b"<h1>Troubleshooting Account Management Login Failures</h1>" in response.content
    assert b"<title>Troubleshooting Account Management Login Failures" in response.content


def test_H1_lists_eleven_situations_with_anchors(help_page):
    assert sorted(HELP_ANCHORS) == list(range(1, 12))
    in_page = [href for href in help_page.hrefs if href.startswith("#") and href not in ("#main", "#situations")]
    # The list comes first, in the seed's order, one link per situation.
    assert in_page[:11] == [f"#{HELP_ANCHORS[n]}" for n in range(1, 12)]
    for number, wording in SITUATIONS.items():
        anchor = HELP_ANCHORS[number]
        assert squash(help_page.link_texts[f"#{anchor}"][0]) == wording
        assert anchor in help_page.section_text, f"no <section id={anchor!r}>"
        assert wording in squash(help_page.section_text[anchor])


# One or more key phrases of each answer (s368-445 and H1).
ANSWERS = {
    1: [
        "Caps Lock",
        "lower case",
        "10 consecutive failed",
        "until 24 hours after the last failed attempt",
        "call your regional Customer Service Center",
    ],
    2: ["upper case", "without spaces"],
    3: ["by telephone", "verification of the account holder’s identity"],
    4: ["temporary passcode", "for 2 days", "further 10 days", "only to print or save the online security card"],
    5: ["arrange for a replacement", "from 3 to 14 days", "online security card", "20 to 150 USD"],
    6: ["for 2 days", "further 10 days", "21 days"],
    7: ["21 days", "status of your permanent security device"],
    8: ["activate automatically", "1-877-442-2757"],
    9: ["for 2 days only", "the trading platform refuses it"],
    10: [
        "Settings > Security > Secure Login System",
        "Activate my new/current secure login device",
        "neither the temporary passcode nor the online security card",
    ],
    11: ["do not include any spaces", "neither letters nor digits", '! @ # $ % ^ & * ( . , " :'],
}


@pytest.mark.parametrize("number", sorted(ANSWERS))
def test_H1_each_situation_answered(help_page, number):
    anchor = HELP_ANCHORS[number]
    text = squash(help_page.section_text[anchor])
    for phrase in ANSWERS[number]:
        assert phrase in text, f"{anchor}: missing {phrase!r}"


def test_H1_each_entry_links_back_to_the_list(client, db):
    response = client.get("/help/")
    content = response.content.decode()
    assert "situations" in parse(response).ids
    sections = re.findall(r'<section class="help-entry" id="([^"]+)".*?</section>', content, re.S)
    assert sections == [HELP_ANCHORS[n] for n in range(1, 12)]
    for body in re.findall(r'<section class="help-entry".*?</section>', content, re.S):
        assert '<a href="#situations">Back to top</a>' in body


@pytest.mark.parametrize("number", [1, 3, 4, 5, 6, 7, 9, 10])
def test_H1_entries_needing_a_call_link_to_contact_page(client, db, number):
    content = client.get("/help/").content.decode()
    body = re.search(rf'<section class="help-entry" id="{HELP_ANCHORS[number]}".*?</section>', content, re.S)
    assert 'href="/help/contact/"' in body.group(0)


def test_H1_technical_assistance_number_is_a_tel_link(help_page):
    assert "tel:+18774422757" in help_page.hrefs


def test_H1_important_note_telephone_and_identity(client, db):
    content = squash(client.get("/help/").content.decode())
    assert "all requests for login assistance must be made by telephone" in content
    assert "identity of the account holder has to be verified first" in content
    note = re.search(r'<div class="notice help-note".*?</div>', content, re.S).group(0)
    assert 'href="/help/contact/"' in note


@pytest.mark.parametrize("path", ["/help/", "/help/contact/"])
def test_H1_H2_pages_need_no_inline_script_or_style(client, db, path):
    page = parse(client.get(path))
    assert page.scripts == 0
    assert page.inline_styles == 0


@pytest.mark.parametrize(
    ("username", "password", "anchor", "status"),
    [("alice!", PASSWORD, HELP_ANCHORS[11], 400), ("alice", "wrong password", HELP_ANCHORS[1], 401)],
    ids=["bad-character", "invalid-credentials"],
)
def test_H1_login_errors_link_to_matching_help_entry(web, alice, help_page, username, password, anchor, status):
    response = csrf_post(web, "/login/", {"username": username, "password": password})
    assert response.status_code == status
    links = [href for href in parse(response).hrefs if href.startswith("/help/#")]
    assert links == [f"/help/#{anchor}"]
    assert anchor in help_page.section_text


# H2: every number of the seed, the e-mail for security questions.
NUMBERS = [
    ("(203) 618-4006", "tel:+12036184006"),
    ("1-877-442-2757", "tel:+18774422757"),
    ("+41-41-726-9500", "tel:+41417269500"),
    ("+852-2156-7907", "tel:+85221567907"),
    ("+86 (21) 6086 8586", "tel:+862160868586"),
    ("+61 (2) 8093-7300", "tel:+61280937300"),
]


@pytest.mark.parametrize(("number", "tel"), NUMBERS, ids=[n for n, _ in NUMBERS])
def test_H2_lists_every_number_of_the_seed(contact_page, number, tel):
    assert {squash(text) for text in contact_page.link_texts[tel]} == {number}


def test_H2_lists_security_email(contact_page):
    assert contact_page.link_texts["mailto:tac@interactivebrokers.com"] == ["tac@interactivebrokers.com"]


def row_of(content: str, region: str) -> str:
    match = re.search(rf'<tr>\s*<th scope="row">{re.escape(region)}</th>.*?</tr>', content, re.S)
    assert match, f"no row for {region}"
    return match.group(0)


@pytest.mark.parametrize(
    ("region", "numbers"),
    [
        ("US and Canada", ["(203) 618-4006"]),
        ("Europe", ["+41-41-726-9500"]),
        ("Asia (outside Japan)", ["+852-2156-7907", "+86 (21) 6086 8586"]),
        ("Australia", ["+61 (2) 8093-7300"]),
        ("Japan", ["+852-2156-7907", "+86 (21) 6086 8586"]),
    ],
)
def test_H2_numbers_by_region(client, db, region, numbers):
    row = row_of(client.get("/help/contact/").content.decode(), region)
    for number in numbers:
        assert f">{number}</a>" in row


def test_H2_hong_kong_languages(client, db):
    row = squash(row_of(client.get("/help/contact/").content.decode(), "Asia (outside Japan)"))
    assert '+852-2156-7907</a> <span class="phone-note">(Cantonese)' in row
    assert '+86 (21) 6086 8586</a> <span class="phone-note">(Mandarin)' in row


def test_H2_technical_support_menu_options(client, db):
    content = squash(client.get("/help/contact/").content.decode())
    assert "choose the menu options 2, 6, 3, in that order" in content


def test_H2_phone_call_and_identity_first_no_invented_hours(client, db):
    content = squash(client.get("/help/contact/").content.decode())
    assert "all login assistance starts with a telephone call" in content
    assert "verify the identity of the account holder" in content
    assert "opening hours; they are not listed on this page" in content
    # The seed gives no hours: nothing that looks like one.
    assert not re.search(r"\b\d{1,2}(:\d\d)?\s*(am|pm|a\.m\.|p\.m\.)", content, re.I)
    assert not re.search(r"\b\d{1,2}:\d\d\b", content)


def test_H2_table_has_headers_for_screen_readers(client, db):
    content = client.get("/help/contact/").content.decode()
    assert "<caption>" in content
    assert '<th scope="col">Region</th>' in content
    assert content.count('<th scope="row">') == 5
