"""gunicorn settings for the benchmark's stand-ins: the application and its URLconf imported once in the
master before it forks the workers, as a long-running portal or Sage server has them. Without this each
worker imports Django's URLconf and every view at its first request, seconds of CPU that landed inside the
first measured cycle on a 2-core machine (a cost no real outside system puts on us)."""
preload_app = True


def when_ready(server) -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (importing the URLconf and the views is the point)
