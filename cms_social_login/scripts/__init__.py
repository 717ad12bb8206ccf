"""Console scripts of the add-on (``cms-social-login-settings``)."""
