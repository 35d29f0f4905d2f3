"""A test run never rewrites the README's screenshots: they change only when published on purpose."""

from __future__ import annotations

from tests.e2e import conftest as e2e


def test_it_writes_screenshots_outside_the_checkout():
    assert e2e.ROOT not in e2e.ARTIFACTS.resolve().parents


def test_it_publishes_nothing_into_docs_img_unless_asked(tmp_path):
    picture = tmp_path / "shot.png"
    picture.write_bytes(b"\x89PNG not really")
    target = e2e.DOCS_IMG / "never-published-by-a-test.png"
    try:
        assert e2e.publish(picture, target.name) is None
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)
