"""The membership rule: "only members of these workspaces / organizations / groups".

A provider declares one :class:`MembershipRule` (the tab's field, which its tab then
shows, the words, the scope it needs) as its ``membership_rule`` and feeds
:meth:`MembershipRule.first_member` with the pages of names its API lists for the
visitor (``member_pages``); the rule reads the allowed names from the tab, stops at the
first match, and refuses everyone else with
:class:`~cms_social_login.providers.errors.AccessRestricted`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..i18n import _
from .errors import AccessRestricted


@dataclass(frozen=True)
class MembershipRule:
    """Who may log in, by membership at the provider."""

    #: The tab's field with the allowed names (separated by spaces and/or commas): its
    #: name, label, help, one name's regular expression and the message when a value
    #: does not match.
    field: str
    label: str
    help: str
    name_pattern: str
    pattern_message: str
    #: The rule in words for the Test login page, with ``${names}``.
    words: str
    #: What a refused visitor reads.
    refusal: str
    #: What a visitor reads when the provider does not list the memberships.
    unavailable: str
    #: For the log: what was read (``GET /user/orgs``) and what it lists.
    source: str
    noun: str
    #: A scope the authorize request adds while the rule is on (None: none needed).
    scope: str | None = None
    #: Names compare without case (GitHub logins, GitLab paths).
    ignore_case: bool = False
    #: A member of ``a/b`` counts as a member of ``a`` (GitLab subgroups).
    subgroups: bool = False
    #: Pages read at most.
    max_pages: int = 10

    @property
    def pattern(self) -> str:
        """The field's pattern: names separated by spaces and/or commas."""
        name = self.name_pattern
        return rf"[ ,]*{name}(?:[ ,]+{name})*[ ,]*"

    def parse(self, value: str | None) -> tuple[str, ...]:
        """The names of a field value, in order, without repeats (lower case when
        :attr:`ignore_case`); empty means no restriction."""
        value = (value or "").lower() if self.ignore_case else value or ""
        return tuple(dict.fromkeys(name for name in re.split(r"[\s,]+", value) if name))

    def allowed(self, values: Mapping[str, str]) -> tuple[str, ...]:
        """The allowed names of the tab's ``values`` (empty: everyone may log in)."""
        return self.parse(values.get(self.field))

    def in_words(self, values: Mapping[str, str]) -> str | None:
        """The rule in words for ``values``, or None when it is off."""
        allowed = self.allowed(values)
        return _(self.words, mapping={"names": ", ".join(allowed)}) if allowed else None

    def match(self, listed: str, allowed: Sequence[str]) -> str | None:
        """The entry of ``allowed`` that ``listed`` is (or is below, with subgroups)."""
        name = listed.lower() if self.ignore_case else listed
        return next((entry for entry in allowed if name == entry or (
            self.subgroups and name.startswith(entry + "/"))), None)

    def first_member(self, pages: Iterable[Sequence[str]], allowed: Sequence[str]) -> str:
        """The first listed name that :meth:`match` es ``allowed``, as listed; reads at most
        :attr:`max_pages` of ``pages``. :class:`AccessRestricted` when there is none."""
        wanted = self.parse(" ".join(allowed))
        seen = 0
        for number, page in enumerate(pages, start=1):
            for name in page:
                seen += 1
                if self.match(name, wanted):
                    return name
            if number >= self.max_pages:
                raise AccessRestricted(self.refusal, (
                    f"{self.source}: none of {len(wanted)} allowed {self.noun} in the first "
                    f"{seen} listed (stopped after {self.max_pages} pages)"))
        raise AccessRestricted(self.refusal, f"{self.source}: member of {seen} {self.noun}, "
                                             f"none of the {len(wanted)} allowed")


def numbered_pages(fetch_page: Callable[[int], list[Any] | None], key: str, per_page: int
                   ) -> Iterator[list[str]]:
    """The ``item[key]`` strings of pages 1, 2, ... of a numbered list (``page=``),
    until a page shorter than ``per_page``, or None (``member_list_page``'s 404: no list).

    ``per_page`` must be what the server really sends: one that cuts pages to fewer items
    (Gitea's ``MAX_RESPONSE_ITEMS``, 50 by default) would end the list after page 1."""
    number = 1
    while True:
        page = fetch_page(number) or []
        yield [item[key] for item in page
               if isinstance(item, dict) and isinstance(item.get(key), str)]
        if len(page) < per_page:
            return
        number += 1
