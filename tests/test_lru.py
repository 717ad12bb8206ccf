"""The add-on's one LRU cache (cms_social_login.lru): bounded, least recently used out
first, and with a time to live when asked."""

from __future__ import annotations

import pytest

from cms_social_login.lru import LRUCache


def test_the_least_recently_used_entry_goes_first():
    cache: LRUCache[str, str] = LRUCache(size=2)
    for key in "abc":
        cache.put(key, key.upper())
    assert cache.get("a") is None and cache.get("c") == "C" and len(cache) == 2
    assert cache.get("b") == "B"  # now the most recently used
    cache.put("d", "D")
    assert cache.keys() == ["b", "d"]


def test_an_entry_lives_its_time_to_live_only():
    kept = LRUCache(size=2, ttl=60)
    kept.put("a", 1)
    assert kept.get("a") == 1
    stale = LRUCache(size=2, ttl=0)
    stale.put("a", 1)
    assert stale.get("a") is None and len(stale) == 0


def test_a_discarded_entry_is_gone_and_an_unknown_one_is_no_error():
    cache = LRUCache(size=1)
    cache.put("a", 1)
    cache.discard("a")
    cache.discard("never held")
    assert cache.get("a") is None and len(cache) == 0


def test_a_cache_of_nothing_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        LRUCache(size=0)


def test_a_peek_reads_an_entry_without_making_it_recently_used():
    cache: LRUCache[str, str] = LRUCache(size=2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.peek("a") == "A" and cache.peek("c") is None
    cache.put("c", "C")  # a was still the least recently used
    assert cache.keys() == ["b", "c"]
