import pytest

from paperfeed import normalize as n


@pytest.mark.parametrize("text, expected", [
    ("http://arxiv.org/abs/2401.01234v2", ("2401.01234", 2)),
    ("arXiv:0704.0001", ("0704.0001", None)),
    ("oai:arXiv.org:1302.2146", ("1302.2146", None)),
    ("hep-th/9901001v1", ("hep-th/9901001", 1)),
    ("http://arxiv.org/abs/astro-ph/0601001v1", ("astro-ph/0601001", 1)),
    ("math.GT/0309136", ("math/0309136", None)),  # old ids with a subject class keep only the archive
    ("1501.00001", ("1501.00001", None)),
])
def test_arxiv_ids_old_and_new_style_with_versions(text, expected):
    assert n.split_arxiv_id(text) == expected


@pytest.mark.parametrize("text", ["0808.05394", "1413.0001", "2400.12345", "not an id", "", None])
def test_invalid_arxiv_ids_are_rejected(text):
    # 0808.05394: five-digit serials only exist from 2015 on (the arXiv API itself calls it invalid).
    assert n.arxiv_id(text) is None


def test_doi_prefixes_and_case():
    assert n.doi("https://doi.org/10.1103/PhysRevD.76.013009.") == "10.1103/physrevd.76.013009"
    assert n.doi("doi:10.1145/3318464.3389742") == "10.1145/3318464.3389742"
    assert n.doi("no doi here") is None


def test_titles_lose_line_breaks_and_simple_latex():
    assert n.clean_title("Visual Instruction Tuning for Multimodal\n  Models") == (
        "Visual Instruction Tuning for Multimodal Models")
    assert n.clean_title(r"On the $k$-means \emph{problem} -- a {GPU} view") == "On the k-means problem – a GPU view"
    assert n.clean_title(r"G{\"o}del meets Erd\H{o}s") == "Gödel meets Erdős"


@pytest.mark.parametrize("text, expected", [
    ("Smith, John", "John Smith"),
    ("John Smith", "John Smith"),
    (r"Bal\'azs, P\'eter", "Péter Balázs"),
    ("Smith, J.R.", "J. R. Smith"),
    ("John Smith, Jr.", "John Smith, Jr."),
    ("  Ana   María\nGarcía ", "Ana María García"),
    (":", ""),
    (" - ", ""),
])
def test_person_names(text, expected):
    assert n.person_name(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Xiang, Haotian, Li, Bingcong, Lu, Qin", ["Haotian Xiang", "Bingcong Li", "Qin Lu"]),
    ("Viswanath Poosala, Yannis E. Ioannidis", ["Viswanath Poosala", "Yannis E. Ioannidis"]),
    ("C. Balazs, E. L. Berger, P. M. Nadolsky and C.-P. Yuan",
     ["C. Balazs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]),
    ("Smith, John and Doe, Jane and van der Berg, Jan", ["John Smith", "Jane Doe", "Jan van der Berg"]),
    ("A. Smith and B. Jones", ["A. Smith", "B. Jones"]),
])
def test_author_lists(text, expected):
    assert n.split_authors(text) == expected


def test_author_key_folds_diacritics_and_initials():
    assert n.author_key("Péter Balázs") == n.author_key("P. Balazs") == "balazs|p"


def test_dates_become_utc_days():
    assert n.to_utc_date("Thu, 01 Feb 2018 23:30:00 -0800") == "2018-02-02"
    assert n.to_utc_date("2024-05-27T23:30:00.000Z") == "2024-05-27"
    assert n.to_utc_date("2007-04-02") == "2007-04-02"
    assert n.to_utc_date("Jul 30") is None


@pytest.mark.parametrize("text, expected", [
    ("10.48550/arXiv.2005.14165", "2005.14165"),  # arXiv's own DOIs
    ("https://doi.org/10.48550/arxiv.2106.09685v2", "2106.09685"),
    ("10.1145/3318464.3389742", None),  # an ordinary DOI with digits that look like an id is not one
])
def test_arxiv_ids_inside_arxiv_dois(text, expected):
    assert n.arxiv_id(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Felipe Cariño, Jr., Pekka Kostamaa", ["Felipe Cariño, Jr.", "Pekka Kostamaa"]),
    ("R. J. Bayardo, Jr., W. Bohrer, R. Brice", ["R. J. Bayardo, Jr.", "W. Bohrer", "R. Brice"]),
    ("Daniel Barbar&#225;, Tomasz Imieli&#324;ski", ["Daniel Barbará", "Tomasz Imieliński"]),  # ACM.csv
])
def test_author_lists_keep_suffixes_and_decode_entities(text, expected):
    assert n.split_authors(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Bertram Lud&#228;scher", "Bertram Ludäscher"),
    ("Per-&#197;ke Larson", "Per-Åke Larson"),
    ("H&#xE9;ctor Garc&iacute;a-Molina", "Héctor García-Molina"),
    ("Research &amp; Development", "Research & Development"),
    ("AT&T Labs", "AT&T Labs"),  # no reference
    ("Accepted by A&A; 18 pages", "Accepted by A&A; 18 pages"),  # "&A;" is no entity
    ("&param; stays", "&param; stays"),  # not "¶m;": only whole names are decoded
    ("&amp;#225;", "&#225;"),  # one level deep
])
def test_clean_text_decodes_html_references(text, expected):
    assert n.clean_text(text) == expected


def test_person_name_keeps_the_semicolon_of_an_entity():
    # Double-escaped input leaves a reference after one decoding; its ";" is not punctuation.
    assert n.person_name("Barbar&amp;#225;, Daniel") == "Daniel Barbar&#225;"
    assert n.person_name("J.R. Smith;") == "J. R. Smith"  # a stray ";" still goes


def test_clean_text_and_xml_text_drop_what_xml_cannot_hold():
    clean_text, xml_text = n.clean_text, n.xml_text
    assert clean_text("a\x00b\x01 c\x0bd\x1ce\x7f\ud800\ufffe f") == "ab c d e f"
    assert clean_text("Caf\u00e9\x01 \x1f au lait") == "Caf\u00e9 au lait"
    # xml_text keeps tab and line breaks (XML holds them) and drops only what XML 1.0 cannot carry.
    assert xml_text("a\tb\nc\r\x00\x01\x0b\x0c\x1f\ud800\uffffz\x7f") == "a\tb\nc\rz\x7f"
    assert xml_text("plain") == "plain"
