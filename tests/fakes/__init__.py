"""Fakes of the services the gateway talks to, usable from any test."""
