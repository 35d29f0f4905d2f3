from django.urls import path

from dealgate.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("orders-and-quotes/", views.erp_import, name="erp"),
    path("export/<str:kind>.csv", views.export, name="export"),
    path("<str:token>/", views.map_columns, name="map"),
]
