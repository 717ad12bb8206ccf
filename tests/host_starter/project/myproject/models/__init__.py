import zope.sqlalchemy
from sqlalchemy import engine_from_config
from sqlalchemy.orm import configure_mappers, sessionmaker

# Every model is imported here, so that Base.metadata knows them all.
from .mymodel import MyModel  # noqa: F401
from .user import User  # noqa: F401

configure_mappers()


def get_engine(settings, prefix="sqlalchemy."):
    return engine_from_config(settings, prefix)


def get_session_factory(engine):
    factory = sessionmaker()
    factory.configure(bind=engine)
    return factory


def get_tm_session(session_factory, transaction_manager, request=None):
    """A session whose commit and rollback follow ``transaction_manager``."""
    dbsession = session_factory(info={"request": request})
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


def includeme(config):
    """``config.include("myproject.models")``: pyramid_tm and ``request.dbsession``."""
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    config.include("pyramid_tm")
    config.include("pyramid_retry")

    # The tests share one engine through this setting.
    dbengine = settings.get("dbengine")
    if not dbengine:
        dbengine = get_engine(settings)
    session_factory = get_session_factory(dbengine)
    config.registry["dbsession_factory"] = session_factory

    def dbsession(request):
        # The tests hand their own session in through the environ.
        dbsession = request.environ.get("app.dbsession")
        if dbsession is None:
            dbsession = get_tm_session(session_factory, request.tm, request=request)
        return dbsession

    config.add_request_method(dbsession, reify=True)
