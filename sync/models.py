from sync.sage.models import *  # noqa: F401,F403  (Sage tables are models of this app)
