"""Declarative base on a MetaData with a naming convention (stable constraint names)."""

from typing import Any

from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, MappedColumn, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Base class of the add-on's models."""

    metadata = metadata


#: The site of today's rows and of a single-site host (see :mod:`cms_social_login.sites`).
DEFAULT_SITE = "default"


def site_column(**options: Any) -> MappedColumn[str]:
    """The ``site`` key column every per-site table has (``"default"`` for rows made
    before sites existed)."""
    return mapped_column(String(64), nullable=False, server_default=DEFAULT_SITE, **options)
