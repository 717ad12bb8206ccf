from myproject import models


def test_my_view_success(testapp, dbsession):
    dbsession.add(models.MyModel(name="one", value=55))
    dbsession.flush()
    res = testapp.get("/", status=200)
    assert b"Welcome to" in res.body


def test_notfound(testapp):
    res = testapp.get("/badurl", status=404)
    assert res.status_code == 404
