
from sqlalchemy import Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base


class MyModel(Base):
    __tablename__ = "models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    value: Mapped[int | None] = mapped_column(Integer)


Index("my_index", MyModel.name, unique=True, mysql_length=255)
