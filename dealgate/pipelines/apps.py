from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "dealgate.pipelines"
    label = "pipelines"

    def ready(self) -> None:
        from dealgate.pipelines import checks  # noqa: F401  (registers the criteria check)
