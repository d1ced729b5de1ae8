from django.urls import path

from . import views
from .oauth import views as oauth_views

app_name = "massmail"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("oauth/callback/", oauth_views.callback, name="oauth_callback"),
    path("unsubscribed/", views.unsubscribed, name="unsubscribed"),
]
