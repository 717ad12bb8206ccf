from myproject import models
from sqlalchemy import select

from cms_social_login.testing.plugin import KIT_CLIENT_ID, KIT_CLIENT_SECRET
from cms_social_login.testing.steps import callback_path, fill_tab, start_login


def test_a_visitor_signs_in_with_bitbucket(social_login_editor, social_login_visitor,
                                           social_login_dbsession, bitbucket_emulator):
    fill_tab(social_login_editor, "bitbucket",
             {"client_id": KIT_CLIENT_ID, "client_secret": KIT_CLIENT_SECRET}, "save")
    bitbucket_emulator.current_user = bitbucket_emulator.add_user("Grace Hopper",
                                                                  nickname="grace")
    location = bitbucket_emulator.approve(start_login(social_login_visitor, "bitbucket"))
    social_login_visitor.get(callback_path(location)).follow()
    user = social_login_dbsession.scalar(select(models.User).where(models.User.name == "grace"))
    assert user is not None and user.email == "grace@example.com"
