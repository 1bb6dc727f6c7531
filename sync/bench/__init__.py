"""`manage.py bench cycle` and `bench tenants`: the sync measured at size against stand-ins served by gunicorn."""
