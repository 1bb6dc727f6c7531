from django.urls import path

from sandbox.sage_webapi import views

app_name = "sandbox_sage_webapi"

urlpatterns = [
    path("Sage300WebApi/v1.0/-/<str:company>/<str:module>/<str:path>", views.resource, name="resource"),
]
