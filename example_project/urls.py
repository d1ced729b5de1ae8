from django.contrib import admin
from django.urls import include, path

from .desk import desk

urlpatterns = [
    path("admin/", admin.site.urls),
    path("desk/", desk.urls),  # the managers' own admin site (desk.py)
    path("massmail/", include("massmail.urls")),
]
