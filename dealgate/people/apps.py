from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "dealgate.people"
    label = "people"
