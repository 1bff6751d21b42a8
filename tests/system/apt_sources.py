"""This machine's Debian mirror, read from its apt sources (never named in code)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.system.procs import read_text


def debian_mirror() -> str:
    """Debian mirror URL from this machine's apt sources.

    Reads deb822 `*.sources` files first, then classic `deb URL suite` lines;
    takes the first entry serving a plain suite (not `-security`/-updates).
    """
    entries = _deb822_entries() + _classic_entries()
    for uri, suites in entries:
        if any(_is_plain_suite(s) for s in suites) and "security" not in uri:
            return uri.rstrip("/")
    for uri, _suites in entries:
        if "debian" in uri and "security" not in uri:
            return uri.rstrip("/")
    raise RuntimeError("no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list")


def _is_plain_suite(suite: str) -> bool:
    return bool(re.fullmatch(r"[a-z]+", suite))


def _deb822_entries() -> list[tuple[str, list[str]]]:
    entries = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", read_text(path)):
            fields = _deb822_fields(stanza)
            if "deb" not in fields.get("types", "").split():
                continue
            if fields.get("enabled", "yes").lower() == "no":
                continue
            suites = fields.get("suites", "").split()
            for uri in fields.get("uris", "").split():
                entries.append((uri, suites))
    return entries


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t" and key:  # continuation line
            fields[key] += " " + line.strip()
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        fields[key] = value.strip()
    return fields


def _classic_entries() -> list[tuple[str, list[str]]]:
    paths = [Path("/etc/apt/sources.list")]
    paths += sorted(Path("/etc/apt/sources.list.d").glob("*.list"))
    entries = []
    for path in paths:
        for line in read_text(path).splitlines():
            line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0])  # options
            words = line.split()
            if len(words) >= 3 and words[0] == "deb":
                entries.append((words[1], [words[2]]))
    return entries
