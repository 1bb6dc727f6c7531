"""The SAT status stand-in's route: the service's own path, ConsultaCFDIService.svc."""
from django.urls import path

from sandbox.sat import views

urlpatterns = [
    path("ConsultaCFDIService.svc", views.consulta, name="sandbox-sat-consulta"),
]
