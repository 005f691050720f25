"""Query parameters read as the schema types them."""

from django.http import QueryDict

from .errors import DomainError

TRUE = {"1", "true", "yes"}
FALSE = {"", "0", "false", "no"}


def query_flag(params: QueryDict, name: str) -> bool:
    """A boolean query parameter. A value that is neither true nor false is refused (400)
    instead of being read as false without a word."""
    value = params.get(name, "").lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise DomainError({name: ["Use true or false."]})
