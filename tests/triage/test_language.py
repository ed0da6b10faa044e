import pytest

from socialdesk.triage.language import detect_language


@pytest.mark.parametrize("text, code", [
    ("Since the Acme X3 update my wifi drops every few minutes. Anyone else?", "en"),
    ("Hola, mi teléfono no funciona desde ayer y nadie me responde", "es"),
    ("Mon téléphone ne marche plus depuis la mise à jour, c'est inadmissible", "fr"),
    ("Mein Handy funktioniert seit dem Update nicht mehr, bitte helft mir", "de"),
    ("アップデートしてからWiFiが何度も切れます。どうすればいいですか", "ja"),
])
def test_detects_the_language(text, code):
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["ok", "lol 😂", "@acme https://example.com/x #fail", ""])
def test_too_short_says_nothing(text):
    assert detect_language(text) is None


def test_mentions_links_and_hashtags_do_not_count():
    text = "@acmephones @support https://acme.example/help #acme #care Hola, mi teléfono no funciona desde ayer"
    assert detect_language(text) == "es"
