from django.urls import path

from . import views
from .tracking import views as tracking_views

app_name = "massmail"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("c/<str:token>/<int:link_id>/", tracking_views.click, name="click"),
]
