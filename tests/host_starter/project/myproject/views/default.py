from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .. import models


@view_config(route_name="home", renderer="myproject:templates/mytemplate.jinja2")
def my_view(request):
    try:
        one = request.dbsession.scalars(
            select(models.MyModel).where(models.MyModel.name == "one")).first()
    except SQLAlchemyError:
        return Response(db_err_msg, content_type="text/plain", status=500)
    return {"one": one, "project": "myproject"}


db_err_msg = """\
Pyramid is having a problem using your SQL database.
Run "alembic -c testing.ini upgrade head" to create the tables.
"""
