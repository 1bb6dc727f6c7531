"""Stand-ins for the outside systems, served by this same Django (off in production)."""
from django.urls import include, path

urlpatterns = [
    path("portal/", include("sandbox.portal.urls")),
    path("sage/", include("sandbox.sage_webapi.urls")),
    path("sat/", include("sandbox.sat.urls")),
]
