from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "dealgate.imports"
    label = "imports"
