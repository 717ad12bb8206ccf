"""Test kit for cms_social_login: local provider emulators and fixtures."""
