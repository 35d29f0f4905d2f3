from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "dealgate.pipelines"
    label = "pipelines"
