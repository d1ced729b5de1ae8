from django.contrib import admin
from django.urls import include, path

from example_project.demo import views as demo_views

from .desk import desk

urlpatterns = [
    path("admin/", admin.site.urls),
    path("desk/", desk.urls),  # the managers' own admin site (desk.py)
    path("massmail/", include("massmail.urls")),
    path("unsubscribed/", demo_views.unsubscribed, name="demo-unsubscribed"),
]

# A readable page when an admin form exceeds DATA_UPLOAD_MAX_MEMORY_SIZE.
handler400 = "massmail.too_big.bad_request"
