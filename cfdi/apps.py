from django.apps import AppConfig


class CfdiConfig(AppConfig):
    name = "cfdi"
    verbose_name = "CFDI"
