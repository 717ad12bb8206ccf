"""Services: the logic between thin views and the models and providers."""
