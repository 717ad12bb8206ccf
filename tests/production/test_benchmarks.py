"""The benchmark script works (tiny sizes; the real run is `python benchmarks/run.py`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def load_benchmarks():
    spec = importlib.util.spec_from_file_location("cms_social_login_benchmarks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_benchmarks_run_at_tiny_sizes(postgresql_server, capsys):
    benchmarks = load_benchmarks()
    results = benchmarks.run(quick=True, server=postgresql_server)
    printed = capsys.readouterr().out
    for number in ("1a.", "1b.", "2.", "3.", "4.", "4b.", "5.", "6.", "7."):
        assert f"\n{number} " in "\n" + printed
    login = results["login_page"]
    assert login["site_rps"] > 0 and login["bare_rps"] > 0 and login["ratio"] > 0
    assert login["checking_rps"] > 0 and login["first_time_rps"] > 0
    assert not login["set_cookie"]
    assert results["login_page_development"]["ratio"] > 0
    sso = results["sso_login"]
    assert sso["api_calls"][0] == "token" and sso["ratio"] > 0
    assert sso["floor_ratio"] > 0 and sso["site_vs_floor"] > 0  # the floor logs in too
    lookup = results["identity_lookup"]
    assert lookup["identities"] == {"small": 50, "large": 500}
    assert "Index" in lookup["plan"]
    assert len(lookup["part_ratios"]) == 5 and all(r > 0 for r in lookup["part_ratios"])
    memory = results["worker_memory"]
    assert 10 < memory["peak_rss_mib"] < 2000
    assert 10 < memory["floor"]["peak_rss_mib"] < memory["peak_rss_mib"]
    assert "the stack's floor" in printed
    assert results["memory_per_provider"]["providers"] == [1, 20]
    assert results["growth"]["audit"]["ratio"] > 0 and results["growth"]["history"]["ratio"] > 0
    # Like with like: both audit pages list a full page of events.
    assert results["growth"]["audit_rows_shown"] == {"small": 50, "large": 50}
    sites = results["many_sites"]
    assert sites["sites"] == 200 and sites["cached_sites"] == sites["cache_size"] == 200
    [misses] = sites["smaller_caches"]
    assert misses["cached_sites"] == misses["cache_size"] == 50 and misses["miss_share"] == 0.75
    assert sites["cache_bytes_per_site"] > 0 and misses["cost_ratio"] > 0
    assert sites["single_rps"] > 0 and sites["many_rps"] > 0 and sites["cost_ratio"] > 0
    logins = results["concurrent_logins"]
    assert logins["server_errors"] == 0 and logins["signed_in"] == logins["logins"] == 20
    assert logins["same_users"] == 1 and logins["same_identities"] == 1
    assert login["cpu_ratio"] > 0 and login["first_time_cpu_ratio"] > 0
    assert results["machine"]["nproc"] >= 1


def test_the_import_costs_of_the_stack_are_printed(tmp_path):
    """benchmarks/import_cost.py (the decomposition of benchmark 4) runs in a fresh
    interpreter and names each step with what it adds, the add-on's last."""
    import re
    import subprocess

    script = SCRIPT.with_name("import_cost.py")
    done = subprocess.run([sys.executable, str(script), f"sqlite:///{tmp_path}/site.sqlite"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    steps = re.findall(r"^(.+?)\s+\+(\d+\.\d) MiB = +(\d+\.\d)$", done.stdout, re.MULTILINE)
    labels = [label for label, _, _ in steps]
    assert labels[:2] == ["hashlib (OpenSSL's libcrypto, loaded by the standard library)",
                          "hupper (pserve imports it, with or without --reload)"]
    assert labels[-3:] == [
        "the floor's app (benchmarks/floor_app.py: main() and a GET /login)",
        "cms_social_login + cms_demo: their imports and configuration (main())",
        "the site's first GET /login (its templates compiled, first query)"]
    sqlalchemy = next(float(added) for label, added, _ in steps if label.startswith("sqlalchemy"))
    assert sqlalchemy > 5  # the ORM: the largest part of the stack
    assert float(steps[-1][2]) > float(steps[0][2])
