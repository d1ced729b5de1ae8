from django.urls import path

from . import views
from .oauth import views as oauth_views
from .tracking import views as tracking_views

app_name = "massmail"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("oauth/callback/", oauth_views.callback, name="oauth_callback"),
    path("unsubscribed/", views.unsubscribed, name="unsubscribed"),
    path("c/<str:token>/<int:link_id>/", tracking_views.click, name="click"),
]
