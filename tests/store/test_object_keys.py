"""Object keys on disk, S3 URIs and bucket names.

The key codec is checked by property: every valid key round-trips, and no key can produce a
path component that climbs out of (or is absolute in) its bucket's folder. A stateful test
then drives the local store against a dict with keys chosen to collide as files and folders.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sagebox.errors import NoSuchKey, ValidationError
from sagebox.store.objects import S3Uri, parse_s3_uri
from sagebox.store.objects.keys import (
    CONTINUATION,
    NAME_MAX_BYTES,
    SELF_NAME,
    decode_key,
    decode_segment,
    encode_key,
    encode_segment,
    validate_key,
)
from sagebox.store.objects.local import LocalObjectStore
from sagebox.store.objects.uri import validate_bucket_name

# Characters that stress the encoding: separators, dots, escapes, control and wide chars.
_TRICKY = ["/", ".", "%", "+", "\\", "\x00", "\x1f", "\x7f", " ", "a", "Z", "é", "日", "🙂"]
_TRICKY_PIECES = [*_TRICKY, "..", "%2E", "%+", SELF_NAME, "%25", "%self/x"]


def _fits(key: str) -> bool:
    return 0 < len(key.encode("utf-8")) <= 1024


any_keys = st.text(min_size=1, max_size=400).filter(_fits)
tricky_keys = (
    st.lists(st.sampled_from(_TRICKY_PIECES), min_size=1, max_size=60).map("".join).filter(_fits)
)
long_segments = st.builds(
    lambda char, n, tail: char * n + tail,
    st.sampled_from(["x", "é", "日", "\x01", ".", "%", "🙂"]),
    st.integers(min_value=60, max_value=1000),
    st.sampled_from(["", ".", "..", "/", "/..", "x"]),
).filter(_fits)
keys = st.one_of(any_keys, tricky_keys, long_segments)


@given(keys)
@settings(max_examples=400, suppress_health_check=[HealthCheck.filter_too_much])
def test_every_key_round_trips(key: str) -> None:
    assert decode_key(encode_key(key)) == key


@given(keys)
@settings(max_examples=400, suppress_health_check=[HealthCheck.filter_too_much])
def test_encoded_components_are_safe_file_names(key: str) -> None:
    names = encode_key(key)
    for name in names:
        assert name not in ("", ".", "..")
        assert "/" not in name and "\x00" not in name
        assert len(name.encode("utf-8")) <= NAME_MAX_BYTES
        assert name != SELF_NAME
    root = Path("/store/bucket")
    path = os.path.normpath(root.joinpath(*names))
    assert Path(path).is_relative_to(root) and Path(path) != root


@given(keys, keys)
@settings(max_examples=200, suppress_health_check=[HealthCheck.filter_too_much])
def test_a_key_below_another_is_stored_below_it(parent: str, child: str) -> None:
    # The folder of "a" is the path of key "a": that is what makes listing by folder work.
    assert encode_key(parent + "/" + child) == encode_key(parent) + encode_key(child)


@given(st.text(min_size=256, max_size=1024).filter(_fits))
def test_long_segments_are_chained_with_continuations(segment: str) -> None:
    names = encode_segment(segment.replace("/", "_"))
    assert all(name.endswith(CONTINUATION) for name in names[:-1])
    assert not names[-1].endswith(CONTINUATION)


@pytest.mark.parametrize(
    ("key", "names"),
    [
        ("raw/german_credit.csv", ("raw", "german_credit.csv")),
        ("données/日本/ü.csv", ("données", "日本", "ü.csv")),
        ("a//b", ("a", "%", "b")),
        ("/lead", ("%", "lead")),
        ("dir/", ("dir", "%")),
        ("../x", ("%2E%2E", "x")),
        ("./.hidden", ("%2E", ".hidden")),
        ("100%", ("100%25",)),
        ("%self", ("%25self",)),
        ("tab\there", ("tab%09here",)),
    ],
)
def test_keys_are_stored_as_literally_as_safety_allows(key: str, names: tuple[str, ...]) -> None:
    assert encode_key(key) == names


@pytest.mark.parametrize(
    "names",
    [["%41"], ["%2e"], ["%zz"], ["a%"], ["%2E%2Ex"], ["x%+"], ["x%+", "y%+"], [SELF_NAME], ["%%"]],
)
def test_names_the_encoder_never_writes_are_not_keys(names: list[str]) -> None:
    with pytest.raises(ValueError):
        decode_key(names)


def test_decode_segment_rejects_a_chain_broken_in_the_middle() -> None:
    with pytest.raises(ValueError):
        decode_segment(["abc", "def"])


def test_validate_key_explains_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        validate_key("")
    with pytest.raises(ValidationError, match="1025 bytes long"):
        validate_key("x" * 1025)
    with pytest.raises(ValidationError, match="lone surrogate"):
        validate_key("bad\ud800")


def test_public_surface_imports_without_boto3() -> None:
    # boto3 costs a second at import; only an S3 store should pay it.
    code = (
        "import sys, sagebox.store.objects as o, sagebox.cli.s3; "
        "assert all(hasattr(o, n) for n in o.__all__); "
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# S3 URIs and bucket names ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "bucket", "key"),
    [
        ("s3://loan-data", "loan-data", ""),
        ("s3://loan-data/", "loan-data", ""),
        ("s3://loan-data/raw/german_credit.csv", "loan-data", "raw/german_credit.csv"),
        ("s3://loan-data/a//b/", "loan-data", "a//b/"),
        ("s3://loan-data/%20x", "loan-data", "%20x"),
    ],
)
def test_parse_s3_uri(text: str, bucket: str, key: str) -> None:
    uri = parse_s3_uri(text)
    assert (uri.bucket, uri.key) == (bucket, key)
    assert str(uri) == f"s3://{bucket}/{key}"
    assert parse_s3_uri(str(uri)) == uri


def test_s3_uri_helpers() -> None:
    uri = S3Uri("loan-data", "raw")
    assert str(uri.join("a.csv")) == "s3://loan-data/raw/a.csv"
    assert uri.arn == "arn:aws:s3:::loan-data/raw"
    assert S3Uri("loan-data").arn == "arn:aws:s3:::loan-data"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("loan-data/raw", ["s3://bucket/key", "'loan-data/raw'"]),
        ("S3://loan-data", ["lower case"]),
        ("s3:///key", ["names no bucket"]),
        ("s3://Loan_Data/x", ["'Loan_Data'", "lowercase letters"]),
        ("s3://ab/x", ["3 to 63"]),
    ],
)
def test_parse_s3_uri_says_what_is_wrong(text: str, words: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_s3_uri(text)
    for word in words:
        assert word in caught.value.message


@pytest.mark.parametrize(
    "name", ["abc", "loan-data-2024", "a.b.c", "x" * 63, "1bucket", "my-s3alias-bucket"]
)
def test_valid_bucket_names(name: str) -> None:
    validate_bucket_name(name)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ab", "3 to 63"),
        ("x" * 64, "3 to 63"),
        ("Loans", "lowercase"),
        ("loans_2024", "lowercase"),
        (".loans", "begin and end"),
        ("loans-", "begin and end"),
        ("loans..v2", "adjacent periods"),
        ("10.0.0.1", "IP address"),
        ("xn--loans", "'xn--'"),
        ("loans-s3alias", "'-s3alias'"),
    ],
)
def test_invalid_bucket_names_say_which_rule(name: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_bucket_name(name)
    assert reason in caught.value.message and repr(name) in caught.value.message


# the local store against a model --------------------------------------------------------
_COLLIDING = (
    st.lists(st.sampled_from(["a", "b", "", ".", "%"]), min_size=1, max_size=4)
    .map("/".join)
    .filter(bool)
)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8")


class LocalStoreMatchesADict(RuleBasedStateMachine):
    """Puts and deletes of keys that are each other's folders keep the store equal to a dict."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self._tmp = tempfile.TemporaryDirectory()
        self.store = LocalObjectStore(Path(self._tmp.name))
        self.store.create_bucket("model")
        self.model: dict[str, bytes] = {}

    @rule(key=_COLLIDING, body=st.binary(max_size=8))
    def put(self, key: str, body: bytes) -> None:
        self.store.put_object("model", key, body)
        self.model[key] = body

    @rule(key=_COLLIDING)
    def delete(self, key: str) -> None:
        self.store.delete_object("model", key)
        self.model.pop(key, None)

    @rule(key=_COLLIDING)
    def get(self, key: str) -> None:
        if key in self.model:
            assert self.store.get_object("model", key) == self.model[key]
        else:
            with pytest.raises(NoSuchKey):
                self.store.get_object("model", key)

    @rule(prefix=st.sampled_from(["", "a", "a/", "a/b", "/", "./"]))
    def list_folders(self, prefix: str) -> None:
        page = self.store.list_objects("model", prefix, delimiter="/")
        expected_objects = sorted(
            (k for k in self.model if k.startswith(prefix) and "/" not in k[len(prefix) :]),
            key=_utf8,
        )
        expected_prefixes = {
            prefix + k[len(prefix) :].split("/")[0] + "/"
            for k in self.model
            if k.startswith(prefix) and "/" in k[len(prefix) :]
        }
        assert [o.key for o in page.objects] == expected_objects
        assert page.common_prefixes == tuple(sorted(expected_prefixes, key=_utf8))

    @invariant()
    def listing_matches(self) -> None:
        listed = [o.key for o in self.store.iter_objects("model")]
        assert listed == sorted(self.model, key=_utf8)

    def teardown(self) -> None:
        self._tmp.cleanup()


LocalStoreMatchesADict.TestCase.settings = settings(
    max_examples=30, stateful_step_count=25, deadline=None
)
test_local_store_matches_a_dict = LocalStoreMatchesADict.TestCase


def test_a_long_segment_ending_in_dots_never_makes_a_dot_dot_name() -> None:
    # Found by hypothesis: the chunk boundary fell between the two dots.
    key = "\x01" * 756 + ".."
    names = encode_key(key)
    assert all(name not in ("", ".", "..") for name in names)
    assert decode_key(names) == key
