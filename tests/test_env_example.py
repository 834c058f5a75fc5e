"""Every environment variable the settings read is listed in .env.example (DESIGN: "every one listed")."""

from __future__ import annotations

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]


def test_env_example_lists_every_variable_the_settings_read():
    settings = (BASE_DIR / "portal" / "settings.py").read_text()
    read = set(re.findall(r'(?:env_\w+|_secret)\(\s*"([A-Z0-9_]+)"', settings))
    listed = set(re.findall(r"^([A-Z0-9_]+)=", (BASE_DIR / ".env.example").read_text(), re.MULTILINE))
    assert len(read) > 40  # the pattern still finds the readers
    assert read - listed == set()
