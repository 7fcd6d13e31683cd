"""The network edge: which addresses may be fetched (policy) and the one HTTP client (http)."""
from .http import Fetched, HttpClient
from .policy import check_address, check_url

__all__ = ["Fetched", "HttpClient", "check_address", "check_url"]
