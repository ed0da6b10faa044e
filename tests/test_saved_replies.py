import pytest

from socialdesk.config import ConfigError
from socialdesk.saved_replies import DEFAULTS, load_saved_replies


def test_defaults_when_no_file():
    assert load_saved_replies(None) == DEFAULTS


def test_reads_a_toml_file(tmp_path):
    path = tmp_path / "replies.toml"
    path.write_text('[[reply]]\nname = "Shipping"\ntext = "Hi {author}, it ships Monday. – {agent}"\n')
    [reply] = load_saved_replies(str(path))
    assert reply.name == "Shipping" and "{author}" in reply.text


@pytest.mark.parametrize(("content", "message"), [
    ("[[reply]]\nname = \"x\"\n", "reply #1 in .* needs a name and a text"),
    ("not toml = = =", "is not valid TOML"),
])
def test_bad_files_name_the_setting(tmp_path, content, message):
    path = tmp_path / "replies.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match="SOCIALDESK_SAVED_REPLIES_FILE: .*" + message):
        load_saved_replies(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_saved_replies(str(tmp_path / "nope.toml"))
