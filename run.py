#!/usr/bin/env python3
"""Bootstrap Dealgate on a machine that has only Python 3.11.

    python3 run.py         create .venv, install pinned dependencies, migrate, load demo data, serve :8000
    python3 run.py test    also install test dependencies (and Debian's chromium), run the whole suite
                           (one pytest process per core; pass -n 0 to run in one process)
    python3 run.py screenshots   regenerate the README's pictures in docs/img/ (the showcase browser test)

Anything after `test` is passed to pytest (e.g. `python3 run.py test -k move`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("DEALGATE_VENV", ROOT / ".venv"))
BIN = VENV / "bin"


def say(message: str) -> None:
    print(f"[dealgate] {message}", flush=True)


def ensure_venv() -> None:
    if not (BIN / "python").exists():
        say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)


def pip_install(requirements: str) -> None:
    """Install a requirements file once; re-install only when it (or pyproject) changed."""
    digest = hashlib.sha256()
    for name in (requirements, "requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    stamp = VENV / f".installed-{requirements}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    say(f"installing {requirements} (pinned versions)")
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(ROOT / requirements), "-e", str(ROOT)], check=True)
    stamp.write_text(digest.hexdigest())


def ensure_chromium() -> None:
    if shutil.which("chromium"):
        return
    if os.geteuid() != 0:
        sys.exit("[dealgate] browser tests need Debian's chromium: sudo apt-get install -y chromium")
    say("installing Debian's chromium for the browser tests")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)


def parallel(args: list[str]) -> list[str]:
    """One test process per core (pytest-xdist) unless the caller chose (-n / --numprocesses / -p no:xdist)."""
    chosen = any(a == "-n" or a.startswith(("-n", "--numprocesses", "--dist")) or a == "no:xdist" for a in args)
    return [] if chosen else ["-n", "auto"]


def test_environment() -> dict[str, str]:
    """Keep compiled bytecode between test processes, outside the checkout.

    Without it (PYTHONDONTWRITEBYTECODE, as on CI machines) every pytest worker and every server or CLI
    process a test starts compiled Dealgate and re-wrote the tests' asserts again: 15 s of each
    worker's collection, 5 s with the cache.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(VENV / "pycache"))
    return env


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    ensure_venv()
    if argv[:1] == ["test"]:
        pip_install("requirements-test.txt")
        ensure_chromium()
        return subprocess.call([str(BIN / "python"), "-m", "pytest", *parallel(argv[1:]), *argv[1:]],
                               env=test_environment())
    if argv[:1] == ["screenshots"]:
        # Tests never touch docs/img/; this is the one deliberate way to refresh what the README shows.
        pip_install("requirements-test.txt")
        ensure_chromium()
        env = dict(test_environment(), DEALGATE_PUBLISH_SCREENSHOTS="1")
        code = subprocess.call([str(BIN / "python"), "-m", "pytest", "-q", "-p", "no:randomly",
                                "tests/e2e/test_e2e_showcase.py", *argv[1:]], env=env)
        if code == 0:
            say("docs/img/ regenerated: review with `git diff --stat docs/img` and commit what you want to keep")
        return code
    pip_install("requirements.txt")
    os.execv(str(BIN / "dealgate"), [str(BIN / "dealgate"), "serve", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
