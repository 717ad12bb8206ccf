"""Entry points are scanned once per state of ``sys.path``, and the answer follows every
change of it: a folder put on it or taken off, a package installed into a folder on it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cms_social_login.entry_points import installed_entry_points
from cms_social_login.settings import PROVIDER_GROUP
from cms_social_login.testing.plugin import on_sys_path


def install_metadata(folder: Path, distribution: str, provider: str) -> None:
    """What pip leaves for a distribution offering the provider entry point ``provider``."""
    info = folder / f"{distribution}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{PROVIDER_GROUP}]\n{provider} = {distribution}:Provider\n")


def names() -> set[str]:
    return {entry_point.name for entry_point in installed_entry_points(PROVIDER_GROUP)}


def test_the_answer_follows_sys_path_and_installs(tmp_path):
    shipped = names()
    assert "bitbucket" in shipped
    install_metadata(tmp_path, "first_plugin", "first")
    assert "first" not in names()
    with on_sys_path([tmp_path]):
        assert names() == shipped | {"first"}
        # A second package installed into the same folder while it is on sys.path.
        before = os.stat(tmp_path).st_mtime_ns
        install_metadata(tmp_path, "second_plugin", "second")
        # The kernel stamps times at its clock tick (milliseconds); pip takes longer than
        # one, this test may not: the time it would read a tick later.
        os.utime(tmp_path, ns=(before + 10_000_000, before + 10_000_000))
        assert names() == shipped | {"first", "second"}
    assert str(tmp_path) not in sys.path
    assert names() == shipped
