"""The starter-shaped host project under ``project/`` has its own tests, run by its own
pytest (see test_starter_host.py); our suite does not collect them."""

collect_ignore = ["project"]
