"""The scrubbing rules on the shapes they are for: command lines, environments, strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from coresnap import config
from coresnap.capture.policy import load_policy, words
from coresnap.capture.scrub import MARK, Scrub
from coresnap.errors import ConfigError


def scrub(text: str = "", **settings: str) -> Scrub:
    conf = "".join(f"{k.replace('__', '.')} = {v}\n" for k, v in settings.items())
    return Scrub(load_policy(config.parse_text(text + conf, "test.conf")))


@pytest.mark.parametrize(
    ("args", "scrubbed"),
    [
        (["--password=hunter2"], ["--password=" + MARK]),
        (["-password", "hunter2", "-v"], ["-password", MARK, "-v"]),  # Go's flag package
        (["--api-key", "k1", "--token=t", "x"], ["--api-key", MARK, "--token=" + MARK, "x"]),
        (["--password-stdin", "-v", "host"], ["--password-stdin", "-v", "host"]),
        (["-p", "8080", "--keyboard", "us"], ["-p", "8080", "--keyboard", "us"]),
        (["--", "--password=x"], ["--", "--password=x"]),  # operands, not options
    ],
)
def test_argv_options_named_like_secrets(args: list[str], scrubbed: list[str]) -> None:
    assert scrub().argv(["/usr/bin/prog", *args], "argv")[1:] == scrubbed


def test_listed_flags_belong_to_their_program() -> None:
    s = scrub()
    assert s.argv(["sshpass", "-p", "pw123456", "ssh", "h"], "a") == [
        "sshpass", "-p", MARK, "ssh", "h"]  # fmt: skip
    assert s.argv(["/usr/bin/curl", "-uuser:pw", "https://h"], "a")[1] == "-u" + MARK
    assert s.argv(["ssh", "-p", "2222", "h"], "a") == ["ssh", "-p", "2222", "h"]
    conf = scrub(privacy__flags__1="acme(-cli)? -k")
    assert conf.argv(["acme-cli", "-k", "-secret-starting-with-dash"], "a")[2] == MARK
    assert [r["rule"] for r in conf.records] == ["flag:-k"]


def test_environment_names_and_words() -> None:
    assert words("AWS_SECRET_ACCESS_KEY") == "_aws_secret_access_key_"
    assert words("apiKey") == "_api_key_" and words("HTTPServer") == "_http_server_"
    s = scrub()
    env = {"LC_SECRET_TOKEN": "a", "MALLOC_PASSWORD": "b", "AWS_REGION": "eu", "PWD": "/srv",
           "OLDPWD": "/", "KEYBOARD": "us", "GITHUB_TOKEN": "c", "LANG": "C"}  # fmt: skip
    out = s.environ(env, "env")
    assert [k for k, v in out.items() if v == MARK] == [
        "LC_SECRET_TOKEN", "MALLOC_PASSWORD", "AWS_REGION", "GITHUB_TOKEN"]  # fmt: skip
    assert {r["where"]: r["rule"] for r in s.records}["env.AWS_REGION"] == "name:^_aws_"


@pytest.mark.parametrize(
    ("text", "left"),
    [
        ("id AKIAIOSFODNN7EXAMPLE.", f"id {MARK}."),
        ("Authorization: Bearer abc.def-ghi", f"Authorization: Bearer {MARK}"),
        ("ghp_" + "a1" * 18 + " x", f"{MARK} x"),
        ("postgres://app:pw9@db:5432/x", f"postgres://app:{MARK}@db:5432/x"),
        ("host=db user=app password='s p' port=5", f"host=db user=app password={MARK} port=5"),
        ('{"client_secret": "zz", "user": "bob"}', f'{{"client_secret": "{MARK}", "user": "bob"}}'),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", MARK),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN", MARK),  # cut short by a bound
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2ln", MARK),
        ("--password=x is argv's", "--password=x is argv's"),
        ("sort_key=3 monkey=5", f"sort_key={MARK} monkey=5"),
    ],
)
def test_values_in_any_string(text: str, left: str) -> None:
    assert scrub().text(text, "s") == left


def test_a_value_removed_once_is_removed_everywhere() -> None:
    s = scrub()
    s.argv(["prog", "--token", "abcTOKEN77", "--pin", "1"], "process.cmdline")
    assert s.text("sent abcTOKEN77 twice: abcTOKEN77", "v") == f"sent {MARK} twice: {MARK}"
    assert s.text("1", "w") == "1"  # too short to be looked for again
    assert {"where": "v", "scrubber": "argv", "rule": "known:process.cmdline[2]"} in s.records


def test_learned_secrets_are_not_records_until_found() -> None:
    s = scrub()
    s.learn(["./app", "--token", "tok123456", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI", "X=1"], "m")
    assert s.records == []
    assert s.text("wJalrXUtnFEMI", "v") == MARK and s.text("tok123456!", "w") == MARK + "!"
    assert [r["rule"] for r in s.records] == [
        "known:m.environ.AWS_SECRET_ACCESS_KEY", "known:m.argv"]  # fmt: skip


def test_scrubbers_turn_off_one_by_one() -> None:
    s = scrub(privacy__scrub="environ")
    assert s.argv(["p", "--password=x"], "a") == ["p", "--password=x"]
    assert s.text("Bearer abcdef", "t") == "Bearer abcdef"
    assert s.environ({"DB_PASS": "x"}, "e") == {"DB_PASS": MARK}
    assert scrub(privacy__scrub="").environ({"DB_PASS": "x"}, "e") == {"DB_PASS": "x"}


def test_keep_and_extra_lists(tmp_path: Path) -> None:
    (tmp_path / "names.txt").write_text("# ours\n^_acme_\n")
    (tmp_path / "values.txt").write_text(r"\bacme-[0-9a-f]{8}\b" + "\n")
    s = scrub(privacy__lists=str(tmp_path), privacy__keep="sort_key,*TOKEN")
    assert s.environ({"ACME_ID": "1", "sort_key": "2", "MY_TOKEN": "3"}, "e") == {
        "ACME_ID": MARK, "sort_key": "2", "MY_TOKEN": "3"}  # fmt: skip
    assert s.text("id acme-0badf00d", "t") == f"id {MARK}"


def test_bad_rules_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="privacy.names.1"):
        scrub(privacy__names__1="(unclosed")
    with pytest.raises(ConfigError, match="privacy.scrub.*unknown scrubber 'argvs'"):
        scrub(privacy__scrub="argvs")
    (tmp_path / "flags.txt").write_text("curl\n")
    with pytest.raises(ConfigError, match=rf"{tmp_path}/flags.txt:1"):
        scrub(privacy__lists=str(tmp_path))


def test_a_secret_variables_member_strings_keep_their_shape() -> None:
    """A variable named like a secret loses the texts of its ``char *`` members; ``strings``
    stays {path: text} (the schema's shape), or the snapshot fails validation."""
    from coresnap.snapshot import privacy

    variable = {"name": "key", "type": "struct kv *", "value": "0x55d0c0de", "strings": {"->k": "s3cr3t", "->v": "v"}}  # fmt: skip
    snap = {"threads": [{"tid": 1, "frames": [{"index": 0, "variables": [variable]}]}]}
    privacy.apply(snap, policy=load_policy(config.parse_text("", "test.conf")))
    assert variable["strings"] == {"->k": MARK, "->v": MARK}
