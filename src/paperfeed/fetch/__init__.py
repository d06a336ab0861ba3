"""Fetching over HTTP: one polite client (timeouts, retries, pacing, conditional GET) and URL safety checks."""

from .client import FetchError, HttpClient, Response, client_from_settings
from .politeness import Pacer, Rule
from .urls import UnsafeURLError, check_url

__all__ = ["FetchError", "HttpClient", "Pacer", "Response", "Rule", "UnsafeURLError", "check_url",
           "client_from_settings"]
